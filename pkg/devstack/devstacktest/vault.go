package devstacktest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// StartVault boots a lone Vault server (in-memory storage, initialised and
// unsealed through the API like the dev stack's, so the root token is never
// in a log) and returns a client holding its root token. It takes a second
// or two, against half a minute for a whole stack: tests of Vault
// configuration that need no Nomad use it. Skips without the binary, except
// in CI.
func StartVault(t testing.TB) *vaultapi.Client {
	t.Helper()
	bin, err := tools.Find("vault")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	ports, err := devstack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", ports.VaultAPI)
	cfg := fmt.Sprintf(`storage "inmem" {}
listener "tcp" {
  address         = %q
  cluster_address = "127.0.0.1:%d"
  tls_disable     = true
}
api_addr      = "http://%s"
cluster_addr  = "https://127.0.0.1:%d"
disable_mlock = true
log_level     = "warn"
`, addr, ports.VaultCluster, addr, ports.VaultCluster)
	cfgPath := filepath.Join(dir, "vault.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "vault.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = logf.Close() }) // the server is gone by then; nothing is lost
	cmd := exec.Command(bin, "server", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Vault's own env (a developer's VAULT_ADDR, a token) must not leak in.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	StartDaemon(t, cmd)

	vcfg := vaultapi.DefaultConfig()
	vcfg.Address = "http://" + addr
	c, err := vaultapi.NewClient(vcfg)
	if err != nil {
		t.Fatal(err)
	}
	c.ClearToken()
	c.ClearNamespace()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if _, err := c.Sys().InitStatusWithContext(ctx); err == nil {
			break
		} else if ctx.Err() != nil || Exited(cmd) {
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("vault did not start: %v\n%s", err, b)
		}
		time.Sleep(50 * time.Millisecond)
	}
	init, err := c.Sys().InitWithContext(ctx, &vaultapi.InitRequest{SecretShares: 1, SecretThreshold: 1})
	if err != nil {
		t.Fatalf("vault init: %v", err)
	}
	if st, err := c.Sys().UnsealWithContext(ctx, init.Keys[0]); err != nil || st.Sealed {
		t.Fatalf("vault unseal: %v", err)
	}
	c.SetToken(init.RootToken)
	// Unsealed is not yet active: the first writes fail until it is.
	for {
		h, err := c.Sys().HealthWithContext(ctx)
		if err == nil && h.Initialized && !h.Sealed && !h.Standby {
			if _, err := c.Sys().ListMountsWithContext(ctx); err == nil {
				return c
			}
		}
		if ctx.Err() != nil {
			t.Fatalf("vault not active: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
