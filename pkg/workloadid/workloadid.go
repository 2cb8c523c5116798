// Package workloadid makes Vault trust Nomad workload identities — what
// `nomad setup vault` does, applied idempotently and checkable: a JWT auth
// method on the Nomad cluster's JWKS, a role for workloads bound to the
// Vault audience with claim mappings, and the reviewed policy from
// policies/vault that lets a job read only its own database credentials.
// The dev stack and `hstack db setup` both configure Vault through Setup.
package workloadid

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/vaultplan"
	vaultpolicies "github.com/hstack-dev/hstack/policies/vault"
)

// Defaults. DefaultAuthPath is Nomad's own default for
// vault.jwt_auth_backend_path, so jobs need no extra setting.
const (
	DefaultAuthPath = "jwt-nomad"
	DefaultRole     = "nomad-workloads"
	DefaultAudience = "vault.io"
)

// Config says how Vault trusts Nomad. Only JWKSURL is required.
type Config struct {
	// JWKSURL is Nomad's public key set, as Vault reaches it, e.g.
	// http://nomad.service.consul:4646/.well-known/jwks.json.
	JWKSURL string
	// JWKSCAPEM verifies an https JWKSURL when Nomad's certificate is not
	// signed by a CA Vault already trusts.
	JWKSCAPEM string
	// AuthPath is the JWT auth mount (default "jwt-nomad").
	AuthPath string
	// Role is the JWT role tasks log in with, and the name of its policy
	// (default "nomad-workloads").
	Role string
	// Audience is the aud Nomad puts in identities for Vault (default
	// "vault.io"); it must match the agents' vault.default_identity.aud.
	Audience string
	// TokenPeriod is the period of workload tokens (default 30m): Nomad
	// renews them while the task runs.
	TokenPeriod time.Duration
	// DatabaseMounts are the database secrets engine mounts whose
	// <mount>/creds/<job ID> a task may read (default "database").
	DatabaseMounts []string
}

func (c Config) withDefaults() Config {
	if c.AuthPath == "" {
		c.AuthPath = DefaultAuthPath
	}
	c.AuthPath = strings.Trim(c.AuthPath, "/")
	if c.Role == "" {
		c.Role = DefaultRole
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.TokenPeriod == 0 {
		c.TokenPeriod = 30 * time.Minute
	}
	return c
}

// Policy is the name of the policy workload tokens carry.
func (c Config) Policy() string { return c.withDefaults().Role }

func (c Config) authConfig() map[string]any {
	m := map[string]any{
		"jwks_url":           c.JWKSURL,
		"jwt_supported_algs": vaultplan.Set{"RS256", "EdDSA"},
		"default_role":       c.Role,
	}
	if c.JWKSCAPEM != "" {
		m["jwks_ca_pem"] = c.JWKSCAPEM
	}
	return m
}

// roleConfig maps the identity's claims onto token metadata: the policy
// template reads nomad_job_id from there to name the job's own creds path.
func (c Config) roleConfig() map[string]any {
	return map[string]any{
		"role_type":               "jwt",
		"bound_audiences":         vaultplan.Set{c.Audience},
		"user_claim":              "/nomad_job_id",
		"user_claim_json_pointer": true,
		"claim_mappings": map[string]string{
			"nomad_namespace": "nomad_namespace",
			"nomad_job_id":    "nomad_job_id",
			"nomad_task":      "nomad_task",
		},
		"token_type":     "service",
		"token_policies": vaultplan.Set{c.Role},
		"token_period":   vaultplan.Seconds(c.TokenPeriod),
	}
}

// Setup configures Vault and returns what it changed (every object, with
// Unchanged for those already right). It reads before it writes, so a
// second run writes nothing.
func Setup(ctx context.Context, vc *vaultapi.Client, cfg Config) ([]vaultplan.Change, error) {
	cfg = cfg.withDefaults()
	if cfg.JWKSURL == "" {
		return nil, errors.New("workload identity: the JWKS URL of the Nomad cluster is required")
	}
	sys := vc.Sys()
	var changes []vaultplan.Change

	mountObj := "auth/" + cfg.AuthPath + " (jwt auth method)"
	auths, err := sys.ListAuthWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("list auth methods: %w", err)
	}
	m, ok := auths[cfg.AuthPath+"/"]
	switch {
	case ok && m.Type != "jwt":
		return nil, fmt.Errorf("auth/%s is a %s auth method, not jwt: hstack will not replace it; choose another path", cfg.AuthPath, m.Type)
	case ok:
		changes = append(changes, vaultplan.Change{Action: vaultplan.Unchanged, Object: mountObj})
	default:
		if err := sys.EnableAuthWithOptionsWithContext(ctx, cfg.AuthPath, &vaultapi.EnableAuthOptions{
			Type: "jwt", Description: "Nomad workload identities",
		}); err != nil {
			return nil, fmt.Errorf("enable jwt auth at %s: %w", cfg.AuthPath, err)
		}
		changes = append(changes, vaultplan.Change{Action: vaultplan.Create, Object: mountObj})
		if auths, err = sys.ListAuthWithContext(ctx); err != nil {
			return nil, err
		}
		m = auths[cfg.AuthPath+"/"]
	}
	accessor := m.Accessor

	l := vc.Logical()
	c, err := write(ctx, l, "auth/"+cfg.AuthPath+"/config", cfg.authConfig())
	if err != nil {
		return changes, fmt.Errorf("configure jwt auth on Nomad's JWKS: %w", err)
	}
	changes = append(changes, c)

	policy := vaultpolicies.NomadWorkloads(accessor, cfg.DatabaseMounts)
	cur, err := sys.GetPolicyWithContext(ctx, cfg.Role)
	if err != nil {
		return changes, fmt.Errorf("read policy %s: %w", cfg.Role, err)
	}
	pc := vaultplan.Change{Action: vaultplan.Unchanged, Object: "sys/policies/acl/" + cfg.Role}
	if cur != policy {
		pc.Action = vaultplan.Create
		if cur != "" {
			pc.Action = vaultplan.Update
			pc.Note = "policy text differs from policies/vault/nomad-workloads.hcl"
		}
		if err := sys.PutPolicyWithContext(ctx, cfg.Role, policy); err != nil {
			return changes, fmt.Errorf("write policy %s: %w", cfg.Role, err)
		}
	}
	changes = append(changes, pc)

	c, err = write(ctx, l, "auth/"+cfg.AuthPath+"/role/"+cfg.Role, cfg.roleConfig())
	if err != nil {
		return changes, fmt.Errorf("write jwt role %s: %w", cfg.Role, err)
	}
	return append(changes, c), nil
}

// write writes desired to path unless Vault already holds it.
func write(ctx context.Context, l *vaultapi.Logical, path string, desired map[string]any) (vaultplan.Change, error) {
	cur, err := l.ReadWithContext(ctx, path)
	if err != nil {
		return vaultplan.Change{}, err
	}
	ch := vaultplan.Change{Action: vaultplan.Create, Object: path}
	if cur != nil && cur.Data != nil {
		ch.Fields = vaultplan.Diff(desired, cur.Data)
		if len(ch.Fields) == 0 {
			ch.Action = vaultplan.Unchanged
			return ch, nil
		}
		ch.Action = vaultplan.Update
	}
	if _, err := l.WriteWithContext(ctx, path, vaultplan.Plain(desired)); err != nil {
		return vaultplan.Change{}, err
	}
	return ch, nil
}

// Problem is one thing Check found wrong, with what to do about it.
type Problem struct {
	Check  string `json:"check"`
	Detail string `json:"detail"`
}

func (p Problem) Error() string { return p.Check + ": " + p.Detail }

// Result is one line of a check: OK, or the problem.
type Result struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	// Skipped is set on an OK result that could not be checked.
	Skipped bool `json:"skipped,omitempty"`
}

// Check verifies the chain a task's Vault login goes through and names
// exactly what is wrong. It changes nothing. httpClient fetches the JWKS
// (nil: http.DefaultClient); Vault must reach the same URL, which hstack
// cannot test from where it runs, so a reachable JWKS here is necessary,
// not sufficient.
func Check(ctx context.Context, vc *vaultapi.Client, cfg Config, httpClient *http.Client) []Result {
	cfg = cfg.withDefaults()
	if httpClient == nil {
		httpClient = http.DefaultClient
	}
	var res []Result
	add := func(check string, err error, okDetail string) bool {
		r := Result{Check: check, OK: err == nil, Detail: okDetail}
		if err != nil {
			r.Detail = err.Error()
		}
		res = append(res, r)
		return err == nil
	}

	auths, err := vc.Sys().ListAuthWithContext(ctx)
	if !add("vault reachable", err, vc.Address()) {
		return res
	}
	m, ok := auths[cfg.AuthPath+"/"]
	switch {
	case !ok:
		add("jwt auth method", fmt.Errorf("no auth method at auth/%s: run `hstack db setup`", cfg.AuthPath), "")
		return res
	case m.Type != "jwt":
		add("jwt auth method", fmt.Errorf("auth/%s is a %s auth method, not jwt", cfg.AuthPath, m.Type), "")
		return res
	}
	add("jwt auth method", nil, "auth/"+cfg.AuthPath)

	l := vc.Logical()
	conf, err := l.ReadWithContext(ctx, "auth/"+cfg.AuthPath+"/config")
	var jwks string
	switch {
	case err != nil:
	case conf == nil || conf.Data == nil:
		err = fmt.Errorf("auth/%s is not configured", cfg.AuthPath)
	default:
		jwks, _ = conf.Data["jwks_url"].(string)
		if jwks == "" {
			err = fmt.Errorf("auth/%s/config has no jwks_url: Vault cannot verify Nomad's identities", cfg.AuthPath)
		} else if cfg.JWKSURL != "" && jwks != cfg.JWKSURL {
			err = fmt.Errorf("jwks_url is %s, expected %s", jwks, cfg.JWKSURL)
		}
	}
	if add("jwks_url configured", err, jwks) {
		n, err := fetchKeys(ctx, httpClient, jwks)
		add("jwks_url serves keys", err, fmt.Sprintf("%d keys", n))
	}

	role, err := l.ReadWithContext(ctx, "auth/"+cfg.AuthPath+"/role/"+cfg.Role)
	if err == nil && (role == nil || role.Data == nil) {
		err = fmt.Errorf("no role %s on auth/%s: tasks cannot log in", cfg.Role, cfg.AuthPath)
	}
	if add("jwt role", err, "auth/"+cfg.AuthPath+"/role/"+cfg.Role) {
		aud := asList(role.Data["bound_audiences"])
		var err error
		if !slices.Contains(aud, cfg.Audience) {
			err = fmt.Errorf("bound_audiences is %v, not %q: Nomad's identities for Vault carry aud %q and would be refused", aud, cfg.Audience, cfg.Audience)
		}
		add("audience bound", err, cfg.Audience)
		pols := asList(role.Data["token_policies"])
		err = nil
		if !slices.Contains(pols, cfg.Role) {
			err = fmt.Errorf("role %s gives policies %v, without %s", cfg.Role, pols, cfg.Role)
		}
		add("role grants policy", err, cfg.Role)
		cm, _ := role.Data["claim_mappings"].(map[string]any)
		err = nil
		if cm["nomad_job_id"] != "nomad_job_id" {
			err = errors.New("claim_mappings lacks nomad_job_id: the policy cannot tell which job logged in")
		}
		add("claim mappings", err, "nomad_job_id, nomad_namespace, nomad_task")
	}

	pol, err := vc.Sys().GetPolicyWithContext(ctx, cfg.Role)
	switch {
	case err != nil:
	case pol == "":
		err = fmt.Errorf("no policy %s: workload tokens can read nothing", cfg.Role)
	case pol != vaultpolicies.NomadWorkloads(m.Accessor, cfg.DatabaseMounts):
		err = fmt.Errorf("policy %s differs from policies/vault/nomad-workloads.hcl: run `hstack db setup`", cfg.Role)
	}
	add("workload policy", err, cfg.Role)
	return res
}

func asList(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

// fetchKeys reads a JWKS. It is a public, unauthenticated document outside
// the /v1 API that nomad/api wraps.
func fetchKeys(ctx context.Context, c *http.Client, url string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return 0, fmt.Errorf("%s is not a JWKS: %w", url, err)
	}
	if len(set.Keys) == 0 {
		return 0, fmt.Errorf("%s holds no keys: Nomad's keyring is not initialised", url)
	}
	return len(set.Keys), nil
}

// Login logs in to auth/<path> with a workload identity JWT, as a task's
// Nomad client would, and returns a client holding the resulting token.
func Login(ctx context.Context, vc *vaultapi.Client, cfg Config, jwt string) (*vaultapi.Client, error) {
	cfg = cfg.withDefaults()
	c, err := vc.Clone()
	if err != nil {
		return nil, err
	}
	c.ClearToken()
	s, err := c.Logical().WriteWithContext(ctx, "auth/"+cfg.AuthPath+"/login", map[string]any{
		"role": cfg.Role, "jwt": jwt,
	})
	if err != nil {
		return nil, fmt.Errorf("login with the workload identity at auth/%s (role %s): %w", cfg.AuthPath, cfg.Role, err)
	}
	if s == nil || s.Auth == nil {
		return nil, fmt.Errorf("login at auth/%s returned no token", cfg.AuthPath)
	}
	c.SetToken(s.Auth.ClientToken)
	return c, nil
}

// CheckLogin logs in with a real workload identity and proves the policy
// both ways: the job may read <mount>/creds/<its job ID> when such a role
// is declared, and no other declared role's credentials. Credentials it
// obtains are revoked at once.
func CheckLogin(ctx context.Context, vc *vaultapi.Client, cfg Config, jwt, mount string, roles []string) []Result {
	cfg = cfg.withDefaults()
	var res []Result
	job, err := JobID(jwt)
	if err != nil {
		return append(res, Result{Check: "workload login", Detail: err.Error()})
	}
	wc, err := Login(ctx, vc, cfg, jwt)
	if err != nil {
		return append(res, Result{Check: "workload login", Detail: err.Error()})
	}
	res = append(res, Result{Check: "workload login", OK: true, Detail: "job " + job})
	for _, r := range roles {
		path := strings.Trim(mount, "/") + "/creds/" + r
		s, err := wc.Logical().ReadWithContext(ctx, path)
		if s != nil && s.LeaseID != "" {
			// The operator's token revokes: the workload token may not.
			_ = vc.Sys().RevokeWithOptionsWithContext(context.WithoutCancel(ctx), &vaultapi.RevokeOptions{LeaseID: s.LeaseID, Sync: true})
		}
		var re *vaultapi.ResponseError
		denied := errors.As(err, &re) && re.StatusCode == http.StatusForbidden
		switch {
		case r == job && err != nil:
			res = append(res, Result{Check: "job reads its own credentials", Detail: fmt.Sprintf("job %s cannot read %s: %v", job, path, err)})
		case r == job:
			res = append(res, Result{Check: "job reads its own credentials", OK: true, Detail: path})
		case denied:
			res = append(res, Result{Check: "job denied other credentials", OK: true, Detail: path + ": 403"})
		case err == nil:
			res = append(res, Result{Check: "job denied other credentials", Detail: fmt.Sprintf("job %s can read %s: the policy is too broad", job, path)})
		default:
			res = append(res, Result{Check: "job denied other credentials", Detail: fmt.Sprintf("reading %s: %v", path, err)})
		}
	}
	return res
}

// JobID reads the nomad_job_id claim of a workload identity without
// verifying it: Vault does that at login; hstack only needs to know which
// job's credentials the token should reach.
func JobID(jwt string) (string, error) {
	parts := strings.Split(strings.TrimSpace(jwt), ".")
	if len(parts) != 3 {
		return "", errors.New("not a JWT (want three dot-separated parts)")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("JWT payload: %w", err)
	}
	var claims struct {
		Job string `json:"nomad_job_id"`
	}
	if err := json.Unmarshal(b, &claims); err != nil {
		return "", fmt.Errorf("JWT payload: %w", err)
	}
	if claims.Job == "" {
		return "", errors.New("the JWT has no nomad_job_id claim: it is not a Nomad workload identity")
	}
	return claims.Job, nil
}
