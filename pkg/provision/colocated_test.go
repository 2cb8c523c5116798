package provision

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/tools"
)

// A server node of the Vagrant (and loopback) cluster runs server.sh and
// then vault.sh --colocated into the same root: Vault joins the node's
// Consul server instead of replacing its config with a client's, and the
// real agents accept what is there.
func TestVaultColocatedKeepsTheConsulServer(t *testing.T) {
	root := t.TempDir()
	common := []string{"--phase", "configure", "--root", root, "--mode", "dev", "--join", "static", "--skip-packages",
		"--servers", "192.168.56.11,192.168.56.12,192.168.56.13", "--bind", "192.168.56.11", "--client-addr", "192.168.56.11",
		"--node-name", "server-1", "--vault-peers", "http://192.168.56.12:8200,http://192.168.56.13:8200"}
	if code, out := run(t, "server", common...); code != 0 {
		t.Fatalf("server.sh exit %d:\n%s", code, out)
	}
	server, err := os.ReadFile(filepath.Join(ConfigDir(root, "consul"), "consul.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if code, out := run(t, "vault", append(common, "--colocated")...); code != 0 {
		t.Fatalf("vault.sh --colocated exit %d:\n%s", code, out)
	}
	after, _ := os.ReadFile(filepath.Join(ConfigDir(root, "consul"), "consul.hcl"))
	if string(after) != string(server) || !strings.Contains(string(after), "server           = true") {
		t.Fatalf("vault.sh --colocated changed the Consul server config:\n%s", after)
	}
	vault, err := os.ReadFile(filepath.Join(ConfigDir(root, "vault"), "vault.hcl"))
	if err != nil || !strings.Contains(string(vault), `leader_api_addr = "http://192.168.56.12:8200"`) {
		t.Fatalf("vault.hcl: %v\n%s", err, vault)
	}
	if consul, err := tools.Find("consul"); err == nil {
		must(t, "", consul, "validate", ConfigDir(root, "consul"))
	}
	if code, out := run(t, "server", append(common, "--colocated")...); code != 1 || !strings.Contains(out, "--colocated is a vault.sh option") {
		t.Errorf("server.sh --colocated: exit %d:\n%s", code, out)
	}
	// Without --colocated vault.sh renders its own Consul client, as on a
	// dedicated Vault node.
	if code, out := run(t, "vault", common...); code != 0 {
		t.Fatalf("vault.sh exit %d:\n%s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(ConfigDir(root, "consul"), "consul.hcl")); strings.Contains(string(b), "server           = true") {
		t.Errorf("vault.sh without --colocated kept a server config")
	}
}

func TestNodeArgsColocated(t *testing.T) {
	got := Node{Role: "vault", Root: "/r", Colocated: true}.Args("")
	if got[len(got)-1] != "--colocated" {
		t.Errorf("Args of a colocated Vault node: %q", got)
	}
	if strings.Contains(strings.Join(Node{Root: "/r"}.Args(""), " "), "--colocated") {
		t.Errorf("--colocated without Colocated")
	}
}
