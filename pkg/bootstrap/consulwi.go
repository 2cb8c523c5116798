package bootstrap

import (
	"fmt"

	consulapi "github.com/hashicorp/consul/api"
)

// Consul workload identity: Nomad gives each task a JWT for Consul
// (consul.task_identity on the servers), the client logs in with it on
// this auth method, and the binding rules turn it into a token with the
// task's role. Templates render with that token only: a task has no other
// way to read Consul.
const (
	// AuthMethod is Nomad's default consul.task_auth_method.
	AuthMethod = "nomad-workloads"
	// ConsulAudience is the aud of the identities Nomad gives tasks for
	// Consul; it must match consul.task_identity.aud.
	ConsulAudience = "consul.io"
	// TaskRole is what every task gets, whatever its job: node names and
	// nothing else, so that a task without a role of its own still logs in
	// (and then finds no service, no key).
	TaskRole = "nomad-tasks"
)

// JWKS is where Consul verifies Nomad's workload identities.
type JWKS struct {
	URL   string
	CAPEM string // "" when the URL's certificate is publicly trusted
}

func (j JWKS) config() map[string]any {
	m := map[string]any{
		"JWKSURL":          j.URL,
		"JWTSupportedAlgs": []string{"RS256"},
		"BoundAudiences":   []string{ConsulAudience},
		"ClaimMappings": map[string]string{
			"nomad_namespace": "nomad_namespace",
			"nomad_job_id":    "nomad_job_id",
			"nomad_task":      "nomad_task",
			"nomad_service":   "nomad_service",
		},
	}
	if j.CAPEM != "" {
		m["JWKSCACert"] = j.CAPEM
	}
	return m
}

// taskRules bind a task (an identity without nomad_service) to the role
// app-<job>, when bootstrap created one, and to TaskRole.
func taskRules() []*consulapi.ACLBindingRule {
	sel := `"nomad_service" not in value`
	return []*consulapi.ACLBindingRule{
		{AuthMethod: AuthMethod, Selector: sel, BindType: consulapi.BindingRuleBindTypeRole, BindName: "app-${value.nomad_job_id}", Description: Description + ": the task's own role"},
		{AuthMethod: AuthMethod, Selector: sel, BindType: consulapi.BindingRuleBindTypeRole, BindName: TaskRole, Description: Description + ": every task"},
	}
}

func consulAuthMethod(acl *consulapi.ACL, j JWKS, q *consulapi.QueryOptions, w *consulapi.WriteOptions, res *Result) error {
	want := &consulapi.ACLAuthMethod{
		Name: AuthMethod, Type: "jwt", DisplayName: "Nomad workload identities",
		Description: Description, Config: j.config(),
	}
	cur, _, err := acl.AuthMethodRead(AuthMethod, q)
	if err != nil {
		return fmt.Errorf("consul: read auth method %s: %w", AuthMethod, err)
	}
	switch {
	case cur == nil:
		if _, _, err := acl.AuthMethodCreate(want, w); err != nil {
			return fmt.Errorf("consul: create auth method %s: %w", AuthMethod, err)
		}
		res.add(Change{Product: "consul", Kind: "auth-method", Name: AuthMethod, Action: Created})
	case cur.Type != "jwt":
		return fmt.Errorf("consul: auth method %s is of type %s, not jwt: bootstrap will not replace it", AuthMethod, cur.Type)
	case fmt.Sprint(cur.Config["JWKSURL"]) != j.URL || fmt.Sprint(cur.Config["JWKSCACert"]) != fmt.Sprint(want.Config["JWKSCACert"]):
		if _, _, err := acl.AuthMethodUpdate(want, w); err != nil {
			return fmt.Errorf("consul: update auth method %s: %w", AuthMethod, err)
		}
		res.add(Change{Product: "consul", Kind: "auth-method", Name: AuthMethod, Action: Updated})
	default:
		res.add(Change{Product: "consul", Kind: "auth-method", Name: AuthMethod, Action: Unchanged})
	}
	have, _, err := acl.BindingRuleList(AuthMethod, q)
	if err != nil {
		return fmt.Errorf("consul: list binding rules of %s: %w", AuthMethod, err)
	}
	for _, r := range taskRules() {
		found := false
		for _, h := range have {
			if h.Selector == r.Selector && h.BindType == r.BindType && h.BindName == r.BindName {
				found = true
			}
		}
		if found {
			res.add(Change{Product: "consul", Kind: "binding-rule", Name: r.BindName, Action: Unchanged})
			continue
		}
		if _, _, err := acl.BindingRuleCreate(r, w); err != nil {
			return fmt.Errorf("consul: create binding rule %s: %w", r.BindName, err)
		}
		res.add(Change{Product: "consul", Kind: "binding-rule", Name: r.BindName, Action: Created})
	}
	return nil
}
