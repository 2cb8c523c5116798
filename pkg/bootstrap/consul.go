package bootstrap

import (
	"context"
	"fmt"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// appTemplate is consul/app.hcl: a template, applied once per App.
const appTemplate = "app"

// consulTokens are the service tokens, one per policy (and role) of the
// same name.
var consulTokens = []string{"nomad-server", "nomad-client", "hstack", "prometheus", "ingress", "dns"}

// Consul bootstraps Consul's ACLs, applies policies/consul, creates a role
// and a token per service policy, a role per app, and sets the connected
// agent's own token (node identity) through the agent token API.
func Consul(ctx context.Context, o Options, res *Result) error {
	anon, err := clients.Consul(clients.Config{Consul: *o.Consul})
	if err != nil {
		return err
	}
	mgmt, err := consulManagement(ctx, o, anon, res)
	if err != nil {
		return err
	}
	mc := *o.Consul
	mc.Token = mgmt
	cc, err := clients.Consul(clients.Config{Consul: mc})
	if err != nil {
		return err
	}
	w := (&consulapi.WriteOptions{Token: mgmt.Reveal()}).WithContext(ctx)
	q := (&consulapi.QueryOptions{Token: mgmt.Reveal()}).WithContext(ctx)
	acl := cc.ACL()

	pols, err := LoadPolicies(o.Policies, "consul")
	if err != nil {
		return err
	}
	var want []Policy
	for _, p := range pols {
		if p.Name != appTemplate {
			want = append(want, p)
			continue
		}
		for _, a := range o.Apps {
			if a.Policy == "" {
				want = append(want, Policy{Name: "app-" + a.Job, Rules: appPolicy(p.Rules, a)})
			}
		}
	}
	names := map[string]bool{}
	for _, p := range want {
		names[p.Name] = true
		cur, _, err := acl.PolicyReadByName(p.Name, q)
		if err != nil {
			return fmt.Errorf("consul: read policy %s: %w", p.Name, err)
		}
		switch {
		case cur == nil:
			if _, _, err := acl.PolicyCreate(&consulapi.ACLPolicy{Name: p.Name, Description: Description, Rules: p.Rules}, w); err != nil {
				return fmt.Errorf("consul: create policy %s: %w", p.Name, err)
			}
			res.add(Change{Product: "consul", Kind: "policy", Name: p.Name, Action: Created})
		case cur.Rules != p.Rules:
			cur.Rules = p.Rules
			if _, _, err := acl.PolicyUpdate(cur, w); err != nil {
				return fmt.Errorf("consul: update policy %s: %w", p.Name, err)
			}
			res.add(Change{Product: "consul", Kind: "policy", Name: p.Name, Action: Updated})
		default:
			res.add(Change{Product: "consul", Kind: "policy", Name: p.Name, Action: Unchanged})
		}
		if err := consulRole(acl, p.Name, q, w, res); err != nil {
			return err
		}
	}
	// Jobs bound to an existing policy (the ingress, monitoring) get a role
	// app-<job> linking it.
	for _, a := range o.Apps {
		if a.Policy != "" {
			if err := consulRoleFor(acl, "app-"+a.Job, a.Policy, q, w, res); err != nil {
				return err
			}
		}
	}
	if o.NomadJWKS != nil {
		if err := consulAuthMethod(acl, *o.NomadJWKS, q, w, res); err != nil {
			return err
		}
	}
	list, _, err := acl.PolicyList(q)
	if err != nil {
		return fmt.Errorf("consul: list policies: %w", err)
	}
	for _, p := range list {
		if p.Description == Description && !names[p.Name] {
			res.add(Change{Product: "consul", Kind: "policy", Name: p.Name, Action: NotInRepo})
		}
	}

	for _, name := range consulTokens {
		if !names[name] {
			continue
		}
		if err := consulToken(ctx, o, acl, name, &consulapi.ACLToken{
			Description: Description + ": " + name, Roles: []*consulapi.ACLTokenRoleLink{{Name: name}},
		}, q, w, res); err != nil {
			return err
		}
	}
	if err := consulAgentToken(ctx, o, cc, q, w, res); err != nil {
		return err
	}
	for _, a := range o.ConsulAgents {
		a.Token, a.Single = mgmt, true
		ac, err := clients.Consul(clients.Config{Consul: a})
		if err != nil {
			return err
		}
		if err := consulAgentToken(ctx, o, ac, q, w, res); err != nil {
			return fmt.Errorf("%s: %w", a.Address, err)
		}
	}
	return nil
}

func consulManagement(ctx context.Context, o Options, cc *consulapi.Client, res *Result) (clients.Secret, error) {
	t, _, err := cc.ACL().Bootstrap()
	if err == nil {
		tok := Token{Accessor: t.AccessorID, Secret: clients.Secret(t.SecretID)}
		if err := kvPut(ctx, o.Vault, "consul/bootstrap", tok); err != nil {
			return "", err
		}
		if res.BootstrapTokens == nil {
			res.BootstrapTokens = map[string]clients.Secret{}
		}
		res.BootstrapTokens["consul"] = tok.Secret
		res.add(Change{Product: "consul", Kind: "acl", Name: "bootstrap", Action: Bootstrapped, Note: "management token stored in Vault at " + KVMount + "/" + KVPath("consul/bootstrap")})
		return tok.Secret, nil
	}
	if !isBootstrapDone(err) {
		return "", fmt.Errorf("consul: ACL bootstrap: %w", err)
	}
	if o.Consul.Token != "" {
		res.add(Change{Product: "consul", Kind: "acl", Name: "bootstrap", Action: Adopted, Note: "using the given management token"})
		return o.Consul.Token, nil
	}
	kt, ok, kerr := kvGet(ctx, o.Vault, "consul/bootstrap")
	if kerr != nil {
		return "", kerr
	}
	if !ok {
		return "", fmt.Errorf("consul: %w: set CONSUL_HTTP_TOKEN (or --consul-token) to a management token", ErrNoManagementToken)
	}
	res.add(Change{Product: "consul", Kind: "acl", Name: "bootstrap", Action: Unchanged, Note: "management token from Vault KV"})
	return kt.Secret, nil
}

func consulRole(acl *consulapi.ACL, name string, q *consulapi.QueryOptions, w *consulapi.WriteOptions, res *Result) error {
	return consulRoleFor(acl, name, name, q, w, res)
}

// consulRoleFor keeps role name linked to exactly policy.
func consulRoleFor(acl *consulapi.ACL, name, policy string, q *consulapi.QueryOptions, w *consulapi.WriteOptions, res *Result) error {
	cur, _, err := acl.RoleReadByName(name, q)
	if err != nil {
		return fmt.Errorf("consul: read role %s: %w", name, err)
	}
	links := []*consulapi.ACLRolePolicyLink{{Name: policy}}
	switch {
	case cur == nil:
		if _, _, err := acl.RoleCreate(&consulapi.ACLRole{Name: name, Description: Description, Policies: links}, w); err != nil {
			return fmt.Errorf("consul: create role %s: %w", name, err)
		}
		res.add(Change{Product: "consul", Kind: "role", Name: name, Action: Created})
	case len(cur.Policies) != 1 || cur.Policies[0].Name != policy:
		cur.Policies = links
		if _, _, err := acl.RoleUpdate(cur, w); err != nil {
			return fmt.Errorf("consul: update role %s: %w", name, err)
		}
		res.add(Change{Product: "consul", Kind: "role", Name: name, Action: Updated})
	default:
		res.add(Change{Product: "consul", Kind: "role", Name: name, Action: Unchanged})
	}
	return nil
}

// consulToken keeps the token stored at consul/<name> if Consul still has
// it with the wanted roles and node identities, and creates it otherwise.
func consulToken(ctx context.Context, o Options, acl *consulapi.ACL, name string, want *consulapi.ACLToken, q *consulapi.QueryOptions, w *consulapi.WriteOptions, res *Result) error {
	key := "consul/" + name
	t, ok, err := kvGet(ctx, o.Vault, key)
	if err != nil {
		return err
	}
	if ok {
		cur, _, err := acl.TokenRead(t.Accessor, q)
		if err == nil && sameConsulToken(cur, want) {
			res.token(key, t)
			res.add(Change{Product: "consul", Kind: "token", Name: name, Action: Unchanged})
			return nil
		}
		if err != nil && !strings.Contains(err.Error(), "404") && !strings.Contains(err.Error(), "not found") {
			return fmt.Errorf("consul: read token %s: %w", name, err)
		}
	}
	created, _, err := acl.TokenCreate(want, w)
	if err != nil {
		return fmt.Errorf("consul: create token %s: %w", name, err)
	}
	t = Token{Accessor: created.AccessorID, Secret: clients.Secret(created.SecretID)}
	if err := kvPut(ctx, o.Vault, key, t); err != nil {
		return err
	}
	res.token(key, t)
	res.add(Change{Product: "consul", Kind: "token", Name: name, Action: Created})
	return nil
}

func sameConsulToken(cur, want *consulapi.ACLToken) bool {
	if cur == nil {
		return false
	}
	var a, b []string
	for _, r := range cur.Roles {
		a = append(a, "role:"+r.Name)
	}
	for _, n := range cur.NodeIdentities {
		a = append(a, "node:"+n.NodeName+"/"+n.Datacenter)
	}
	for _, r := range want.Roles {
		b = append(b, "role:"+r.Name)
	}
	for _, n := range want.NodeIdentities {
		b = append(b, "node:"+n.NodeName+"/"+n.Datacenter)
	}
	return sameSet(a, b)
}

// consulAgentToken gives the connected Consul agent a token of its own (a
// node identity: register its node, read services), through the agent
// token API, so it need not run on the anonymous token.
func consulAgentToken(ctx context.Context, o Options, cc *consulapi.Client, q *consulapi.QueryOptions, w *consulapi.WriteOptions, res *Result) error {
	agent := cc.Agent()
	self, err := agent.Self()
	if err != nil {
		return fmt.Errorf("consul: agent self: %w", err)
	}
	cfg, _ := self["Config"]
	node, _ := cfg["NodeName"].(string)
	dc, _ := cfg["Datacenter"].(string)
	if node == "" || dc == "" {
		return fmt.Errorf("consul: agent did not say its node name and datacenter")
	}
	name := "agent-" + node
	before := len(res.Changes)
	if err := consulToken(ctx, o, cc.ACL(), name, &consulapi.ACLToken{
		Description:    Description + ": Consul agent " + node,
		NodeIdentities: []*consulapi.ACLNodeIdentity{{NodeName: node, Datacenter: dc}},
	}, q, w, res); err != nil {
		return err
	}
	tok := res.Tokens["consul/"+name]
	if _, err := agent.UpdateAgentACLToken(tok.Secret.Reveal(), w); err != nil {
		return fmt.Errorf("consul: set agent token of %s: %w", node, err)
	}
	// Setting the same token again is a no-op for the agent.
	action := Unchanged
	if res.Changes[len(res.Changes)-1].Action != Unchanged || len(res.Changes) == before {
		action = Updated
	}
	res.add(Change{Product: "consul", Kind: "agent-token", Name: node + " agent", Action: action})

	// DNS requests carry no token: the agent answers them with its dns
	// token (policy "dns"), so HTTP requests without a token stay denied.
	if dns, ok := res.Tokens["consul/dns"]; ok {
		if _, err := agent.UpdateDNSToken(dns.Secret.Reveal(), w); err != nil {
			return fmt.Errorf("consul: set dns token of %s: %w", node, err)
		}
		action := Unchanged
		for _, c := range res.Changes {
			if c.Product == "consul" && c.Kind == "token" && c.Name == "dns" && c.Action != Unchanged {
				action = Updated
			}
		}
		res.add(Change{Product: "consul", Kind: "agent-token", Name: node + " dns", Action: action})
	}
	return nil
}
