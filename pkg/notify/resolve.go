package notify

import (
	"context"
	"errors"
	"fmt"
	"os"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Resolver reads the secret a reference points at. Errors name the
// reference, never the value.
type Resolver interface {
	Resolve(ctx context.Context, ref stackfile.SecretRef) (string, error)
}

// ErrUnsupported is returned by a resolver for a kind of reference it does
// not handle, so that Chain moves on to the next.
var ErrUnsupported = errors.New("reference kind not handled by this resolver")

// EnvResolver resolves env: references from the hstack process's
// environment.
type EnvResolver struct {
	// Getenv defaults to os.Getenv.
	Getenv func(string) string
}

// Resolve implements Resolver.
func (r EnvResolver) Resolve(_ context.Context, ref stackfile.SecretRef) (string, error) {
	if ref.Env == "" {
		return "", ErrUnsupported
	}
	get := r.Getenv
	if get == nil {
		get = os.Getenv
	}
	v := get(ref.Env)
	if v == "" {
		return "", fmt.Errorf("environment variable %s is not set or empty", ref.Env)
	}
	return v, nil
}

// VaultResolver resolves path#key references by reading path from Vault
// with the client's token. It understands both KV versions: for KV v2 the
// path includes "data/" and the key is looked up in the secret's data.
type VaultResolver struct {
	Client *vaultapi.Client
}

// Resolve implements Resolver.
func (r VaultResolver) Resolve(ctx context.Context, ref stackfile.SecretRef) (string, error) {
	if ref.VaultPath == "" {
		return "", ErrUnsupported
	}
	if r.Client == nil {
		return "", fmt.Errorf("%s: no Vault client configured (set VAULT_ADDR and VAULT_TOKEN)", ref)
	}
	sec, err := r.Client.Logical().ReadWithContext(ctx, ref.VaultPath)
	if err != nil {
		return "", fmt.Errorf("reading %s from Vault: %w", ref.VaultPath, err)
	}
	if sec == nil || sec.Data == nil {
		return "", fmt.Errorf("no secret at %s in Vault (for KV v2 the path needs data/, e.g. secret/data/hooks)", ref.VaultPath)
	}
	data := sec.Data
	// KV v2 nests the pairs under "data" next to "metadata"; a KV v1
	// secret may have a key named "data" of its own, but no metadata.
	if _, v2 := data["metadata"]; v2 {
		inner, ok := data["data"].(map[string]any)
		if !ok {
			return "", fmt.Errorf("the current version of %s in Vault is deleted or destroyed", ref.VaultPath)
		}
		data = inner
	}
	v, ok := data[ref.VaultKey]
	if !ok {
		return "", fmt.Errorf("secret %s in Vault has no key %q", ref.VaultPath, ref.VaultKey)
	}
	s, ok := v.(string)
	if !ok || s == "" {
		return "", fmt.Errorf("key %q of %s in Vault is not a non-empty string", ref.VaultKey, ref.VaultPath)
	}
	return s, nil
}

// Chain tries each resolver in turn, skipping those that return
// ErrUnsupported, so Chain{EnvResolver{}, VaultResolver{c}} handles both
// kinds of reference.
type Chain []Resolver

// Resolve implements Resolver.
func (c Chain) Resolve(ctx context.Context, ref stackfile.SecretRef) (string, error) {
	for _, r := range c {
		v, err := r.Resolve(ctx, ref)
		if errors.Is(err, ErrUnsupported) {
			continue
		}
		return v, err
	}
	return "", fmt.Errorf("%s: no resolver for this kind of reference", ref)
}
