package main

import (
	"fmt"
	"net"
	"sort"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// A release that cannot work is refused before anything is registered:
// with Vault unreachable, and with Vault sealed, deploy exits 3 naming
// Vault and the fix, and Nomad, Consul's catalog and KV are as they were.
func TestDeployPreflightRefusesWithoutVault(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	ex := newExample(t, s)
	env := append(ex.env, "VAULT_TOKEN="+s.VaultToken())
	if out, code := runHstack(t, ex.hstack, env, append([]string{"db", "setup"}, ex.args...)...); code != 0 {
		t.Fatalf("db setup exited %d:\n%s", code, out)
	}
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() string {
		t.Helper()
		jobs, _, err := nomad.Jobs().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		svcs, _, err := consul.Catalog().Services(nil)
		if err != nil {
			t.Fatal(err)
		}
		keys, _, err := consul.KV().Keys("", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for n := range svcs {
			names = append(names, n)
		}
		sort.Strings(names)
		return fmt.Sprintf("jobs=%d services=%v keys=%v", len(jobs), names, keys)
	}
	before := snapshot()
	deploy := func(env []string) (string, int) {
		return runHstack(t, ex.hstack, env, append(append([]string{"deploy"}, ex.args...), "--var", "image_tag=1.0.0")...)
	}

	t.Run("vault unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		dead := "http://" + l.Addr().String()
		_ = l.Close() // closed on purpose: nothing listens there now
		out, code := deploy(append(env, "VAULT_ADDR="+dead))
		if code != 3 || !strings.Contains(out, "vault: reachable") || !strings.Contains(out, "nothing was registered") {
			t.Errorf("exit %d, want 3 naming Vault:\n%s", code, out)
		}
		if after := snapshot(); after != before {
			t.Errorf("a refused release changed the cluster:\nbefore %s\nafter  %s", before, after)
		}
	})

	t.Run("vault sealed", func(t *testing.T) {
		vc, err := s.VaultClient()
		if err != nil {
			t.Fatal(err)
		}
		if err := vc.Sys().Seal(); err != nil {
			t.Fatal(err)
		}
		out, code := deploy(env)
		if code != 3 || !strings.Contains(out, "vault: unsealed") || !strings.Contains(out, "vault operator unseal") {
			t.Errorf("exit %d, want 3 saying Vault is sealed:\n%s", code, out)
		}
		if after := snapshot(); after != before {
			t.Errorf("a refused release changed the cluster:\nbefore %s\nafter  %s", before, after)
		}
	})
}
