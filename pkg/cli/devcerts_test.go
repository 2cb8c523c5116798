package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDevCerts(t *testing.T) {
	isolateEnv(t)
	out := filepath.Join(t.TempDir(), "secrets")
	args := []string{"dev", "certs", "--out", out, "--server", "server-1=192.168.56.11", "--client", "client-1=192.168.56.21"}
	r := runApp(t, nil, args...)
	if r.code != 0 || !strings.Contains(r.stdout, "issued server-1 client-1") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, f := range []string{"cluster.env", "nodes/server-1/tls/vault.pem", "nodes/client-1/tls/nomad.pem"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	key, _ := os.ReadFile(filepath.Join(out, "gossip.key"))
	if r := runApp(t, nil, args...); r.code != 0 || !strings.Contains(r.stdout, "every node already had its certificates") ||
		strings.Contains(r.stdout+r.stderr, strings.TrimSpace(string(key))) {
		t.Errorf("second run: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, bad := range [][]string{
		{"dev", "certs", "--out", out, "--server", "server-1"},
		{"dev", "certs", "--out", out, "--server", "s=not-an-ip"},
		{"dev", "certs", "--out", out, "--client", "c=10.0.0.1"},
		{"dev", "certs", "--server", "s=10.0.0.1"},
	} {
		if r := runApp(t, nil, bad...); r.code != ExitUsage || !strings.HasPrefix(r.stderr, "hstack: ") {
			t.Errorf("%q: exit %d, stderr %q", bad, r.code, r.stderr)
		}
	}
}
