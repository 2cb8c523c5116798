package bootstrap

import (
	"context"
	"fmt"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// Nomad bootstraps Nomad's ACLs, applies policies/nomad, and creates a role
// and a client token per policy.
func Nomad(ctx context.Context, o Options, res *Result) error {
	anonCfg := *o.Nomad
	anon, err := clients.Nomad(clients.Config{Nomad: anonCfg})
	if err != nil {
		return err
	}
	mgmt, err := nomadManagement(ctx, o, anon, res)
	if err != nil {
		return err
	}
	mc := *o.Nomad
	mc.Token = mgmt
	nc, err := clients.Nomad(clients.Config{Nomad: mc})
	if err != nil {
		return err
	}
	q := (&nomadapi.QueryOptions{AuthToken: mgmt.Reveal()}).WithContext(ctx)
	w := (&nomadapi.WriteOptions{AuthToken: mgmt.Reveal()}).WithContext(ctx)

	pols, err := LoadPolicies(o.Policies, "nomad")
	if err != nil {
		return err
	}
	names := map[string]bool{}
	for _, p := range pols {
		names[p.Name] = true
		cur, _, err := nc.ACLPolicies().Info(p.Name, q)
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("nomad: read policy %s: %w", p.Name, err)
		}
		switch {
		case cur != nil && cur.Rules == p.Rules:
			res.add(Change{Product: "nomad", Kind: "policy", Name: p.Name, Action: Unchanged})
		default:
			if _, err := nc.ACLPolicies().Upsert(&nomadapi.ACLPolicy{Name: p.Name, Description: Description, Rules: p.Rules}, w); err != nil {
				return fmt.Errorf("nomad: write policy %s (policies/nomad/%s.hcl): %w", p.Name, p.Name, err)
			}
			res.add(Change{Product: "nomad", Kind: "policy", Name: p.Name, Action: createdOrUpdated(cur != nil)})
		}
		if err := nomadRole(nc, p.Name, q, w, res); err != nil {
			return err
		}
		if err := nomadToken(ctx, o, nc, p.Name, q, w, res); err != nil {
			return err
		}
	}
	list, _, err := nc.ACLPolicies().List(q)
	if err != nil {
		return fmt.Errorf("nomad: list policies: %w", err)
	}
	for _, p := range list {
		if p.Description == Description && !names[p.Name] {
			res.add(Change{Product: "nomad", Kind: "policy", Name: p.Name, Action: NotInRepo})
		}
	}
	return nil
}

func isNotFound(err error) bool {
	m := err.Error()
	return strings.Contains(m, "404") || strings.Contains(m, "not found")
}

func nomadManagement(ctx context.Context, o Options, nc *nomadapi.Client, res *Result) (clients.Secret, error) {
	t, _, err := nc.ACLTokens().Bootstrap((&nomadapi.WriteOptions{}).WithContext(ctx))
	if err == nil {
		tok := Token{Accessor: t.AccessorID, Secret: clients.Secret(t.SecretID)}
		if err := kvPut(ctx, o.Vault, "nomad/bootstrap", tok); err != nil {
			return "", err
		}
		if res.BootstrapTokens == nil {
			res.BootstrapTokens = map[string]clients.Secret{}
		}
		res.BootstrapTokens["nomad"] = tok.Secret
		res.add(Change{Product: "nomad", Kind: "acl", Name: "bootstrap", Action: Bootstrapped, Note: "management token stored in Vault at " + KVMount + "/" + KVPath("nomad/bootstrap")})
		return tok.Secret, nil
	}
	if !isBootstrapDone(err) {
		return "", fmt.Errorf("nomad: ACL bootstrap: %w", err)
	}
	if o.Nomad.Token != "" {
		res.add(Change{Product: "nomad", Kind: "acl", Name: "bootstrap", Action: Adopted, Note: "using the given management token"})
		return o.Nomad.Token, nil
	}
	kt, ok, kerr := kvGet(ctx, o.Vault, "nomad/bootstrap")
	if kerr != nil {
		return "", kerr
	}
	if !ok {
		return "", fmt.Errorf("nomad: %w: set NOMAD_TOKEN (or --nomad-token) to a management token", ErrNoManagementToken)
	}
	res.add(Change{Product: "nomad", Kind: "acl", Name: "bootstrap", Action: Unchanged, Note: "management token from Vault KV"})
	return kt.Secret, nil
}

func nomadRole(nc *nomadapi.Client, name string, q *nomadapi.QueryOptions, w *nomadapi.WriteOptions, res *Result) error {
	cur, _, err := nc.ACLRoles().GetByName(name, q)
	if err != nil && !isNotFound(err) {
		return fmt.Errorf("nomad: read role %s: %w", name, err)
	}
	links := []*nomadapi.ACLRolePolicyLink{{Name: name}}
	switch {
	case cur == nil:
		if _, _, err := nc.ACLRoles().Create(&nomadapi.ACLRole{Name: name, Description: Description, Policies: links}, w); err != nil {
			return fmt.Errorf("nomad: create role %s: %w", name, err)
		}
		res.add(Change{Product: "nomad", Kind: "role", Name: name, Action: Created})
	case len(cur.Policies) != 1 || cur.Policies[0].Name != name:
		cur.Policies = links
		if _, _, err := nc.ACLRoles().Update(cur, w); err != nil {
			return fmt.Errorf("nomad: update role %s: %w", name, err)
		}
		res.add(Change{Product: "nomad", Kind: "role", Name: name, Action: Updated})
	default:
		res.add(Change{Product: "nomad", Kind: "role", Name: name, Action: Unchanged})
	}
	return nil
}

func nomadToken(ctx context.Context, o Options, nc *nomadapi.Client, name string, q *nomadapi.QueryOptions, w *nomadapi.WriteOptions, res *Result) error {
	key := "nomad/" + name
	t, ok, err := kvGet(ctx, o.Vault, key)
	if err != nil {
		return err
	}
	if ok {
		cur, _, err := nc.ACLTokens().Info(t.Accessor, q)
		if err == nil && cur != nil && len(cur.Roles) == 1 && cur.Roles[0].Name == name {
			res.token(key, t)
			res.add(Change{Product: "nomad", Kind: "token", Name: name, Action: Unchanged})
			return nil
		}
		if err != nil && !isNotFound(err) {
			return fmt.Errorf("nomad: read token %s: %w", name, err)
		}
	}
	created, _, err := nc.ACLTokens().Create(&nomadapi.ACLToken{
		Name: "hstack " + name, Type: "client", Roles: []*nomadapi.ACLTokenRoleLink{{Name: name}},
	}, w)
	if err != nil {
		return fmt.Errorf("nomad: create token %s: %w", name, err)
	}
	t = Token{Accessor: created.AccessorID, Secret: clients.Secret(created.SecretID)}
	if err := kvPut(ctx, o.Vault, key, t); err != nil {
		return err
	}
	res.token(key, t)
	res.add(Change{Product: "nomad", Kind: "token", Name: name, Action: Created})
	return nil
}
