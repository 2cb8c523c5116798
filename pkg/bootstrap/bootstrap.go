// Package bootstrap turns on least privilege in a Nomad, Consul and Vault
// cluster: it bootstraps the Nomad and Consul ACL systems (or adopts a
// bootstrapped one with a given management token), applies every policy in
// policies/, creates the roles and tokens hstack, the agents and the
// workloads need, and keeps every token in Vault KV under kv/hstack-acl/
// (never on disk). Each step reads before it writes, so a second run
// changes nothing and says so. `hstack bootstrap acl` and `hstack dev up
// --secure` both run it.
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// KVMount is the Vault KV version 2 mount bootstrap keeps tokens in; the
// nomad-workloads policy also gives each job kv/data/hstack/<job> there.
const KVMount = "kv"

// KVPrefix is where tokens live in KVMount: <product>/<name>. It is not
// under hstack/, whose children are jobs' own secrets.
const KVPrefix = "hstack-acl"

// Description marks the policies, roles and tokens bootstrap manages, so a
// policy removed from the repository can be told apart from an operator's
// own.
const Description = "managed by hstack bootstrap"

// Actions in a Change.
const (
	Created      = "created"
	Updated      = "updated"
	Unchanged    = "unchanged"
	Bootstrapped = "bootstrapped"
	Adopted      = "adopted" // already bootstrapped; the given token is used
	NotInRepo    = "not in repository (left in place)"
)

// Change is one object bootstrap looked at.
type Change struct {
	Product string `json:"product"` // nomad, consul, vault
	Kind    string `json:"kind"`    // acl, policy, role, token, mount, agent-token
	Name    string `json:"name"`
	Action  string `json:"action"`
	Note    string `json:"note,omitempty"`
}

// Result is what a run did. Tokens and BootstrapTokens hold secrets: their
// values print redacted.
type Result struct {
	Changes []Change `json:"changes"`
	// Tokens are the service tokens by "<product>/<name>", e.g.
	// "nomad/deployer", "consul/nomad-client".
	Tokens map[string]Token `json:"-"`
	// BootstrapTokens are the management tokens by product, set only for
	// a product bootstrapped by this very run.
	BootstrapTokens map[string]clients.Secret `json:"-"`
}

// Token is an ACL token as kept in Vault KV.
type Token struct {
	Accessor string
	Secret   clients.Secret
}

// Changed reports whether the run changed anything.
func (r *Result) Changed() bool {
	for _, c := range r.Changes {
		if c.Action != Unchanged && c.Action != Adopted && c.Action != NotInRepo {
			return true
		}
	}
	return false
}

func (r *Result) add(c Change) { r.Changes = append(r.Changes, c) }

func (r *Result) token(key string, t Token) {
	if r.Tokens == nil {
		r.Tokens = map[string]Token{}
	}
	r.Tokens[key] = t
}

// Policy is one policy file.
type Policy struct {
	Name  string // file name without .hcl
	Rules string
}

// LoadPolicies reads <product>/*.hcl from fsys, sorted by name.
func LoadPolicies(fsys fs.FS, product string) ([]Policy, error) {
	files, err := fs.Glob(fsys, product+"/*.hcl")
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Policy
	for _, f := range files {
		b, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		out = append(out, Policy{Name: strings.TrimSuffix(path.Base(f), ".hcl"), Rules: string(b)})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no policies in %s/ of the policy directory", product)
	}
	return out, nil
}

// App is a workload that gets a Consul policy from consul/app.hcl.
type App struct {
	// Job is the Nomad job ID; the policy and role are app-<Job>.
	Job string
	// DatabaseService is the Consul service of the app's database ("" for
	// none: the policy then only reads the app's KV).
	DatabaseService string
	// KVPrefix is the app's configuration folder in Consul KV.
	KVPrefix string
	// Policy, when set, is the Consul policy the job's role gets instead
	// of one from the app template (e.g. "ingress", "prometheus" for the
	// infrastructure jobs).
	Policy string
}

// appPolicy fills in the consul/app.hcl template for a.
func appPolicy(tmpl string, a App) string {
	s := tmpl
	if a.DatabaseService == "" {
		// Drop the service block: a policy naming no database.
		if i := strings.Index(s, `service "DATABASE_SERVICE"`); i >= 0 {
			if j := strings.Index(s[i:], "}\n"); j >= 0 {
				s = s[:i] + s[i+j+2:]
			}
		}
	}
	s = strings.ReplaceAll(s, "DATABASE_SERVICE", a.DatabaseService)
	return strings.ReplaceAll(s, "APP_KV_PREFIX", a.KVPrefix)
}

// isBootstrapDone recognises "already bootstrapped" answers: Nomad says
// "ACL bootstrap already done", Consul "ACL bootstrap no longer allowed".
func isBootstrapDone(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "bootstrap already done") || strings.Contains(m, "no longer allowed")
}

// ErrNoManagementToken is returned when a product is already bootstrapped
// and neither the caller nor Vault KV has its management token.
var ErrNoManagementToken = errors.New("already bootstrapped and no management token given")

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// Options say what to bootstrap. Vault is required: it keeps the tokens.
type Options struct {
	// Policies holds nomad/, consul/ and vault/ (policies.FS, or a
	// checkout's policies/ directory).
	Policies fs.FS
	// Vault is authenticated as root or hstack-admin.
	Vault *vaultapi.Client
	// Consul and Nomad say how to reach the clusters; nil skips a
	// product. A Token in them is the management token to use when the
	// product is already bootstrapped; otherwise bootstrap works with the
	// one it gets from bootstrapping, or the one Vault KV keeps.
	Consul *clients.ConsulConfig
	Nomad  *clients.NomadConfig
	// ConsulAgents are the cluster's other Consul agents, each addressed
	// directly: the agent token API sets one agent's token, so each gets
	// its own (node identity) as the agent Consul talks to does.
	ConsulAgents []clients.ConsulConfig
	// Apps get a Consul policy and role each (app-<job>).
	Apps []App
	// NomadJWKS, when set, makes Consul trust Nomad's workload identities
	// for tasks (auth method nomad-workloads and its binding rules).
	NomadJWKS *JWKS
}

// Run bootstraps all three products in the order their dependencies need:
// Vault first (it keeps the tokens), then Consul, then Nomad.
func Run(ctx context.Context, o Options) (*Result, error) {
	res := &Result{}
	if err := Vault(ctx, o, res); err != nil {
		return res, err
	}
	if o.Consul != nil {
		if err := Consul(ctx, o, res); err != nil {
			return res, err
		}
	}
	if o.Nomad != nil {
		if err := Nomad(ctx, o, res); err != nil {
			return res, err
		}
	}
	return res, nil
}
