package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// startVault runs `vault server -dev` on a free loopback port and returns
// a client holding its root token. Dev mode prints the root token, so its
// output is discarded; HOME points at a temporary directory because dev
// mode also writes the token to ~/.vault-token.
func startVault(t *testing.T) *vaultapi.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts Vault")
	}
	bin, err := tools.Find("vault")
	if err != nil {
		msg := "integration test needs Vault: " + err.Error()
		testenv.Missing(t, msg)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // it only picked a free port
	b := make([]byte, 16)
	rand.Read(b)
	token := hex.EncodeToString(b)

	home := t.TempDir()
	cmd := exec.Command(bin, "server", "-dev", "-dev-root-token-id="+token, "-dev-listen-address="+addr)
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "VAULT_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env, "HOME="+home)
	devstacktest.StartDaemon(t, cmd)

	cfg := vaultapi.DefaultConfig()
	cfg.Address = "http://" + addr
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	deadline := time.Now().Add(30 * time.Second)
	for {
		// The dev server mounts secret/ as KV v2 once it is unsealed.
		if _, err := c.Sys().ListMounts(); err == nil {
			return c
		}
		if devstacktest.Exited(cmd) {
			t.Fatal("vault server -dev exited early (its output is discarded because it contains the root token)")
		}
		time.Sleep(200 * time.Millisecond)
		if time.Now().After(deadline) {
			t.Fatal("vault server -dev not ready within 30s")
		}
	}
}

func TestVaultResolver(t *testing.T) {
	c := startVault(t)
	ctx := context.Background()
	if _, err := c.KVv2("secret").Put(ctx, "hooks", map[string]any{"ops_url": "https://hooks.example/v2", "n": 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.KVv2("secret").Put(ctx, "gone", map[string]any{"ops_url": "x"}); err != nil {
		t.Fatal(err)
	}
	if err := c.KVv2("secret").Delete(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := c.Sys().Mount("kv1", &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Logical().Write("kv1/hooks", map[string]any{"ops_url": "https://hooks.example/v1"}); err != nil {
		t.Fatal(err)
	}

	r := VaultResolver{Client: c}
	ref := func(path, key string) stackfile.SecretRef { return stackfile.SecretRef{VaultPath: path, VaultKey: key} }
	for _, tc := range []struct {
		ref       stackfile.SecretRef
		want, err string
	}{
		{ref("secret/data/hooks", "ops_url"), "https://hooks.example/v2", ""},
		{ref("kv1/hooks", "ops_url"), "https://hooks.example/v1", ""},
		{ref("secret/data/hooks", "nope"), "", `secret secret/data/hooks in Vault has no key "nope"`},
		{ref("secret/data/hooks", "n"), "", `key "n" of secret/data/hooks in Vault is not a non-empty string`},
		{ref("secret/hooks", "ops_url"), "", "no secret at secret/hooks in Vault (for KV v2 the path needs data/"},
		{ref("secret/data/gone", "ops_url"), "", "the current version of secret/data/gone in Vault is deleted"},
	} {
		got, err := r.Resolve(ctx, tc.ref)
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("Resolve(%s) = %q, %v; want %q", tc.ref, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("Resolve(%s) = %q, %v; want error %q", tc.ref, got, err, tc.err)
		}
	}

	// A token without a policy: the error says so and holds no token.
	sec, err := c.Auth().Token().Create(&vaultapi.TokenCreateRequest{Policies: []string{"default"}, NoParent: true})
	if err != nil {
		t.Fatal(err)
	}
	weak, _ := c.Clone()
	weak.SetToken(sec.Auth.ClientToken)
	_, err = VaultResolver{Client: weak}.Resolve(ctx, ref("secret/data/hooks", "ops_url"))
	if err == nil || !strings.Contains(err.Error(), "permission denied") {
		t.Fatalf("weak token: %v", err)
	}
	if strings.Contains(err.Error(), sec.Auth.ClientToken) || strings.Contains(err.Error(), c.Token()) {
		t.Error("the Vault error contains a token")
	}

	// End to end: a Slack notifier whose URL lives in Vault.
	rcv := newReceiver(t)
	if _, err := c.KVv2("secret").Put(ctx, "slack", map[string]any{"url": rcv.url()}); err != nil {
		t.Fatal(err)
	}
	n := New([]*stackfile.Notifier{{Name: "ops", Type: stackfile.NotifierSlack, URL: ref("secret/data/slack", "url")}},
		Chain{EnvResolver{}, VaultResolver{Client: c}}, nil)
	if err := n.Send(ctx, []string{"ops"}, ev); err != nil {
		t.Fatal(err)
	}
	if rcv.requests() != 1 || !strings.Contains(string(rcv.bodies[0]), `"blocks"`) {
		t.Errorf("slack receiver got %d requests", rcv.requests())
	}
}
