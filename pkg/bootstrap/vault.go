package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// workloadPolicy is owned by workloadid.Setup (`hstack db setup`), which
// fills in the JWT mount accessor and the stack's database mounts.
const workloadPolicy = "nomad-workloads"

// vaultTokens are the Vault tokens bootstrap issues, one per policy.
var vaultTokens = []string{"hstack-admin", "ci-deployer", "operator-db"}

// Vault mounts the KV engine, applies policies/vault and issues a token per
// service policy.
func Vault(ctx context.Context, o Options, res *Result) error {
	vc := o.Vault
	if vc == nil {
		return errors.New("bootstrap needs Vault: it keeps the tokens")
	}
	mounts, err := vc.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return fmt.Errorf("vault: list mounts: %w", err)
	}
	switch m, ok := mounts[KVMount+"/"]; {
	case !ok:
		if err := vc.Sys().MountWithContext(ctx, KVMount, &vaultapi.MountInput{
			Type: "kv", Description: "hstack: ACL tokens and apps' secrets", Options: map[string]string{"version": "2"},
		}); err != nil {
			return fmt.Errorf("vault: mount kv: %w", err)
		}
		res.add(Change{Product: "vault", Kind: "mount", Name: KVMount, Action: Created})
	case m.Type != "kv" || m.Options["version"] != "2":
		return fmt.Errorf("vault: %s/ is a %s mount (options %v), not KV version 2: bootstrap will not replace it", KVMount, m.Type, m.Options)
	default:
		res.add(Change{Product: "vault", Kind: "mount", Name: KVMount, Action: Unchanged})
	}

	pols, err := LoadPolicies(o.Policies, "vault")
	if err != nil {
		return err
	}
	for _, p := range pols {
		if p.Name == workloadPolicy {
			continue
		}
		cur, err := vc.Sys().GetPolicyWithContext(ctx, p.Name)
		if err != nil {
			return fmt.Errorf("vault: read policy %s: %w", p.Name, err)
		}
		if cur == p.Rules {
			res.add(Change{Product: "vault", Kind: "policy", Name: p.Name, Action: Unchanged})
			continue
		}
		if err := vc.Sys().PutPolicyWithContext(ctx, p.Name, p.Rules); err != nil {
			return fmt.Errorf("vault: write policy %s (policies/vault/%s.hcl): %w", p.Name, p.Name, err)
		}
		res.add(Change{Product: "vault", Kind: "policy", Name: p.Name, Action: createdOrUpdated(cur != "")})
	}
	if err := reportRemovedVault(ctx, vc, pols, res); err != nil {
		return err
	}

	for _, name := range vaultTokens {
		if err := vaultToken(ctx, vc, name, res); err != nil {
			return err
		}
	}
	return nil
}

func createdOrUpdated(existed bool) string {
	if existed {
		return Updated
	}
	return Created
}

// reportRemovedVault names the policies bootstrap once wrote whose file is
// gone. Vault policies carry no description, so the token records in KV
// are the evidence: a policy with a token under hstack-acl/vault/.
func reportRemovedVault(ctx context.Context, vc *vaultapi.Client, pols []Policy, res *Result) error {
	keys, err := kvList(ctx, vc, "vault")
	if err != nil {
		return err
	}
	have := map[string]bool{}
	for _, p := range pols {
		have[p.Name] = true
	}
	for _, k := range keys {
		if !have[k] {
			res.add(Change{Product: "vault", Kind: "policy", Name: k, Action: NotInRepo, Note: "policies/vault/" + k + ".hcl is gone; delete the policy by hand if that was meant"})
		}
	}
	return nil
}

// vaultToken keeps one orphan, periodic token per service policy: orphan so
// it outlives whoever ran bootstrap, periodic so it lives while renewed.
func vaultToken(ctx context.Context, vc *vaultapi.Client, name string, res *Result) error {
	key := "vault/" + name
	if t, ok, err := kvGet(ctx, vc, key); err != nil {
		return err
	} else if ok {
		s, err := vc.Auth().Token().LookupAccessorWithContext(ctx, t.Accessor)
		if err == nil && s != nil {
			pols, _ := s.TokenPolicies()
			// Vault attaches "default" to every token it creates.
			pols = slices.DeleteFunc(pols, func(p string) bool { return p == "default" })
			if sameSet(pols, []string{name}) {
				res.token(key, t)
				res.add(Change{Product: "vault", Kind: "token", Name: name, Action: Unchanged})
				return nil
			}
		}
	}
	s, err := vc.Auth().Token().CreateOrphanWithContext(ctx, &vaultapi.TokenCreateRequest{
		Policies: []string{name}, DisplayName: "hstack-" + name, Period: "768h",
		Metadata: map[string]string{"managed_by": "hstack bootstrap"},
	})
	if err != nil {
		return fmt.Errorf("vault: create token %s: %w", name, err)
	}
	t := Token{Accessor: s.Auth.Accessor, Secret: clients.Secret(s.Auth.ClientToken)}
	if err := kvPut(ctx, vc, key, t); err != nil {
		return err
	}
	res.token(key, t)
	res.add(Change{Product: "vault", Kind: "token", Name: name, Action: Created})
	return nil
}

// KVPath is where the token of <product>/<name> lives, as a Vault API
// path under KVMount's data/ tree.
func KVPath(key string) string { return KVPrefix + "/" + key }

func kvGet(ctx context.Context, vc *vaultapi.Client, key string) (Token, bool, error) {
	var s *vaultapi.KVSecret
	err := kvRetry(ctx, func() error {
		var err error
		s, err = vc.KVv2(KVMount).Get(ctx, KVPath(key))
		return err
	})
	if errors.Is(err, vaultapi.ErrSecretNotFound) {
		return Token{}, false, nil
	}
	if err != nil {
		return Token{}, false, fmt.Errorf("vault: read %s/%s: %w", KVMount, KVPath(key), err)
	}
	acc, _ := s.Data["accessor_id"].(string)
	sec, _ := s.Data["secret_id"].(string)
	if sec == "" {
		return Token{}, false, nil
	}
	return Token{Accessor: acc, Secret: clients.Secret(sec)}, true, nil
}

func kvPut(ctx context.Context, vc *vaultapi.Client, key string, t Token) error {
	data := map[string]any{"accessor_id": t.Accessor, "secret_id": t.Secret.Reveal()}
	err := kvRetry(ctx, func() error {
		_, err := vc.KVv2(KVMount).Put(ctx, KVPath(key), data)
		return err
	})
	if err != nil {
		return fmt.Errorf("vault: store token in %s/%s: %w", KVMount, KVPath(key), err)
	}
	return nil
}

// kvRetry rides out the moment after a KV v2 mount is created, when it
// answers "upgrading" to reads and writes: a token just issued must not be
// lost to that.
func kvRetry(ctx context.Context, f func() error) error {
	for attempt := 0; ; attempt++ {
		err := f()
		if err == nil || attempt >= 30 || !strings.Contains(err.Error(), "pgrad") {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func kvList(ctx context.Context, vc *vaultapi.Client, product string) ([]string, error) {
	s, err := vc.Logical().ListWithContext(ctx, KVMount+"/metadata/"+KVPrefix+"/"+product)
	if err != nil {
		return nil, fmt.Errorf("vault: list %s/%s/%s: %w", KVMount, KVPrefix, product, err)
	}
	if s == nil {
		return nil, nil
	}
	raw, _ := s.Data["keys"].([]any)
	var out []string
	for _, k := range raw {
		if ks, ok := k.(string); ok && ks != "bootstrap" {
			out = append(out, ks)
		}
	}
	return out, nil
}

// ReadToken returns the token bootstrap stored for key ("nomad/deployer",
// "consul/hstack", "nomad/bootstrap", ...).
func ReadToken(ctx context.Context, vc *vaultapi.Client, key string) (Token, error) {
	t, ok, err := kvGet(ctx, vc, key)
	if err != nil {
		return Token{}, err
	}
	if !ok {
		return Token{}, fmt.Errorf("no token %s in Vault at %s/%s: run `hstack bootstrap acl`", key, KVMount, KVPath(key))
	}
	return t, nil
}
