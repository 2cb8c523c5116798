package notify

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func TestEnvResolver(t *testing.T) {
	r := EnvResolver{Getenv: func(k string) string { return map[string]string{"HOOK": "https://x/y"}[k] }}
	if v, err := r.Resolve(context.Background(), stackfile.SecretRef{Env: "HOOK"}); err != nil || v != "https://x/y" {
		t.Errorf("Resolve(env:HOOK) = %q, %v", v, err)
	}
	if _, err := r.Resolve(context.Background(), stackfile.SecretRef{Env: "NOPE"}); err == nil || !strings.Contains(err.Error(), "NOPE is not set") {
		t.Errorf("Resolve(env:NOPE) = %v", err)
	}
	if _, err := r.Resolve(context.Background(), stackfile.SecretRef{VaultPath: "secret/data/x", VaultKey: "k"}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("a Vault reference: %v", err)
	}
	t.Setenv("HSTACK_NOTIFY_TEST_HOOK", "https://os/env")
	if v, err := (EnvResolver{}).Resolve(context.Background(), stackfile.SecretRef{Env: "HSTACK_NOTIFY_TEST_HOOK"}); err != nil || v != "https://os/env" {
		t.Errorf("default Getenv: %q, %v", v, err)
	}
}

func TestChain(t *testing.T) {
	c := Chain{EnvResolver{Getenv: func(string) string { return "from-env" }}, VaultResolver{}}
	if v, err := c.Resolve(context.Background(), stackfile.SecretRef{Env: "X"}); err != nil || v != "from-env" {
		t.Errorf("env through the chain: %q, %v", v, err)
	}
	// The Vault resolver handles the reference, and says what is missing.
	_, err := c.Resolve(context.Background(), stackfile.SecretRef{VaultPath: "secret/data/x", VaultKey: "k"})
	if err == nil || !strings.Contains(err.Error(), "secret/data/x#k: no Vault client configured") {
		t.Errorf("vault without a client: %v", err)
	}
	if _, err := (Chain{}).Resolve(context.Background(), stackfile.SecretRef{Env: "X"}); err == nil || !strings.Contains(err.Error(), "no resolver") {
		t.Errorf("empty chain: %v", err)
	}
}
