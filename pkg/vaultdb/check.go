package vaultdb

import (
	"context"
	"fmt"
	"slices"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/vaultplan"
)

// CheckResult is one line of a check: OK, or what is wrong.
type CheckResult struct {
	Check  string `json:"check"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	// Denied: Vault refused the token the check ran with, so the check
	// says what that token may do, not whether Vault serves the spec.
	Denied bool `json:"denied,omitempty"`
}

// Check verifies that Vault serves spec: the mount, the connection (same
// server, every declared role allowed), each role, and that the
// connection really works, by issuing one credential per role and
// revoking it at once. That is the only proof that the root credential
// Vault holds still logs in and that the role's SQL runs; it leaves no
// user behind.
func Check(ctx context.Context, vc *vaultapi.Client, spec Spec) []CheckResult {
	var res []CheckResult
	add := func(check string, err error, ok string) bool {
		r := CheckResult{Check: check, OK: err == nil, Detail: ok}
		if err != nil {
			r.Detail = err.Error()
			r.Denied = clients.Classify(err) == clients.Denied
		}
		res = append(res, r)
		return err == nil
	}
	mounts, err := vc.Sys().ListMountsWithContext(ctx)
	if err != nil {
		add("database secrets engine", wrap(err, "list", "sys/mounts"), "")
		return res
	}
	m, ok := mounts[spec.Mount+"/"]
	switch {
	case !ok:
		err = fmt.Errorf("nothing mounted at %s/: run `hstack db setup`", spec.Mount)
	case m.Type != "database":
		err = fmt.Errorf("%s/ is a %s secrets engine, not database", spec.Mount, m.Type)
	}
	if !add("database secrets engine", err, spec.Mount+"/") {
		return res
	}

	l := vc.Logical()
	s, err := l.ReadWithContext(ctx, spec.configPath())
	if err == nil && (s == nil || s.Data == nil) {
		err = fmt.Errorf("no connection %s: run `hstack db setup`", spec.configPath())
	}
	if err != nil {
		add("connection", wrap(err, "read", spec.configPath()), "")
		return res
	}
	details, _ := s.Data["connection_details"].(map[string]any)
	err = nil
	if got := fmt.Sprint(details["connection_url"]); got != spec.ConnectionURL() {
		err = fmt.Errorf("connects to %s, the stack file says %s: run `hstack db setup` (with the root credential)", got, spec.ConnectionURL())
	}
	add("connection address", err, spec.Endpoint.String())
	allowed := asStrings(s.Data["allowed_roles"])
	var missing []string
	for _, r := range spec.Roles {
		if !slices.Contains(allowed, r.Name) && !slices.Contains(allowed, "*") {
			missing = append(missing, r.Name)
		}
	}
	err = nil
	if len(missing) > 0 {
		err = fmt.Errorf("allowed_roles %v lacks %s: run `hstack db setup`", allowed, strings.Join(missing, ", "))
	}
	add("allowed roles", err, strings.Join(allowed, ", "))

	for _, r := range spec.Roles {
		p := spec.Mount + "/roles/" + r.Name
		s, err := l.ReadWithContext(ctx, p)
		switch {
		case err != nil:
			err = wrap(err, "read", p)
		case s == nil || s.Data == nil:
			err = fmt.Errorf("no role %s: run `hstack db setup`", p)
		case s.Data["db_name"] != spec.Connection:
			err = fmt.Errorf("%s uses connection %v, not %s", p, s.Data["db_name"], spec.Connection)
		default:
			if d := r.fields(spec.Connection); len(diffOf(d, s.Data)) > 0 {
				err = fmt.Errorf("%s differs from the stack file (%s): run `hstack db setup`", p, strings.Join(diffOf(d, s.Data), ", "))
			}
		}
		if !add("role "+r.Name, err, p) {
			continue
		}
		c, err := Creds(ctx, vc, spec.Mount, r.Name, 0)
		if err == nil {
			err = vc.Sys().RevokeWithOptionsWithContext(ctx, &vaultapi.RevokeOptions{LeaseID: c.LeaseID, Sync: true})
			if err != nil {
				err = wrap(err, "revoke the test credential", c.LeaseID)
			}
		}
		add("credentials for "+r.Name, err, "issued and revoked a test user")
	}
	return res
}

func asStrings(v any) []string {
	var out []string
	if l, ok := v.([]any); ok {
		for _, e := range l {
			out = append(out, fmt.Sprint(e))
		}
	}
	return out
}

func diffOf(desired, actual map[string]any) []string {
	var names []string
	for _, f := range vaultplan.Diff(desired, actual) {
		names = append(names, f.Name)
	}
	return names
}
