package devstack

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func vagrantNodes(clients int) []Node {
	nodes := []Node{
		{Name: "server-1", Address: "192.168.56.11", Server: true},
		{Name: "server-2", Address: "192.168.56.12", Server: true},
		{Name: "server-3", Address: "192.168.56.13", Server: true},
	}
	for i := 1; i <= clients; i++ {
		nodes = append(nodes, Node{Name: "client-" + string(rune('0'+i)), Address: "192.168.56.2" + string(rune('0'+i)), Client: true})
	}
	return nodes
}

// verify checks leaf against the node's own ca.pem for name and ip, as
// an agent with verify_server_hostname (or Vault's retry_join) does.
func verify(t *testing.T, nd, product, name string, ip string) {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(readCert(t, filepath.Join(nd, "tls", "ca.pem")))
	leaf := readCert(t, filepath.Join(nd, "tls", product+".pem"))
	for _, host := range []string{name, ip} {
		if host == "" {
			continue
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s %s for %s: %v", nd, product, host, err)
		}
	}
	if len(leaf.IPAddresses) == 0 || !leaf.IPAddresses[0].Equal(net.ParseIP(ip)) {
		t.Errorf("%s %s: IP SANs %v, want %s first", nd, product, leaf.IPAddresses, ip)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestWriteClusterSecretsLayoutAndReuse(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "secrets")
	res, err := WriteClusterSecrets(dir, vagrantNodes(2))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"server-1", "server-2", "server-3", "client-1", "client-2"}; !reflect.DeepEqual(res.Issued, want) {
		t.Errorf("issued %v, want %v", res.Issued, want)
	}
	for _, n := range vagrantNodes(2) {
		nd := NodeDir(dir, n.Name)
		if n.Server {
			verify(t, nd, "consul", "server.dc1.consul", n.Address)
			verify(t, nd, "nomad", "server.global.nomad", n.Address)
			verify(t, nd, "vault", "active.vault.service.consul", n.Address)
			if mode(t, filepath.Join(nd, "nomad-gossip.key")) != 0o600 {
				t.Errorf("%s: nomad-gossip.key not 0600", n.Name)
			}
		} else {
			verify(t, nd, "consul", "client.dc1.consul", n.Address)
			verify(t, nd, "nomad", "client.global.nomad", n.Address)
			for _, f := range []string{"tls/vault.pem", "nomad-gossip.key"} {
				if _, err := os.Stat(filepath.Join(nd, f)); err == nil {
					t.Errorf("client %s has %s", n.Name, f)
				}
			}
		}
		for _, f := range []string{"gossip.key", "tls/consul-key.pem", "tls/nomad-key.pem"} {
			if m := mode(t, filepath.Join(nd, f)); m != 0o600 {
				t.Errorf("%s/%s mode %o, want 0600", n.Name, f, m)
			}
		}
	}
	if m := mode(t, filepath.Join(dir, "ca-key.pem")); m != 0o600 {
		t.Errorf("ca-key.pem mode %o", m)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".issue-*")); len(leftovers) > 0 {
		t.Errorf("work dirs left behind: %v", leftovers)
	}

	env, err := os.ReadFile(res.EnvFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export NOMAD_ADDR='https://192.168.56.11:4646'\n", "export CONSUL_HTTP_ADDR='192.168.56.11:8501'\n",
		"export VAULT_ADDR='https://192.168.56.11:8200'\n", "export NOMAD_CLIENT_CERT='" + filepath.Join(dir, "cli.pem") + "'\n"} {
		if !strings.Contains(string(env), want) {
			t.Errorf("cluster.env lacks %q:\n%s", want, env)
		}
	}
	gossip, _ := os.ReadFile(filepath.Join(dir, "gossip.key"))
	if strings.Contains(string(env), strings.TrimSpace(string(gossip))) {
		t.Errorf("cluster.env carries the gossip key")
	}

	// Again with one more client: only it is issued, by the same CA, with
	// the same gossip keys; the others' certificates are untouched.
	before, _ := os.ReadFile(filepath.Join(NodeDir(dir, "server-1"), "tls", "nomad.pem"))
	res, err = WriteClusterSecrets(dir, vagrantNodes(3))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Issued, []string{"client-3"}) {
		t.Errorf("second run issued %v, want only client-3", res.Issued)
	}
	after, _ := os.ReadFile(filepath.Join(NodeDir(dir, "server-1"), "tls", "nomad.pem"))
	if string(before) != string(after) {
		t.Errorf("server-1's certificate changed on a second run")
	}
	verify(t, NodeDir(dir, "client-3"), "nomad", "client.global.nomad", "192.168.56.23")
	g3, _ := os.ReadFile(filepath.Join(NodeDir(dir, "client-3"), "gossip.key"))
	if string(g3) != string(gossip) {
		t.Errorf("client-3 got another gossip key")
	}
	if res, err = WriteClusterSecrets(dir, vagrantNodes(3)); err != nil || len(res.Issued) != 0 {
		t.Errorf("third run: issued %v, err %v", res.Issued, err)
	}
}

func TestWriteClusterSecretsRefusesBadNodes(t *testing.T) {
	for _, tc := range []struct {
		nodes []Node
		want  string
	}{
		{[]Node{{Name: "s", Address: "server-1.local", Server: true}}, "not an IP address"},
		{[]Node{{Name: "c", Address: "10.0.0.1", Client: true}}, "at least one server"},
		{[]Node{{Name: "s", Address: "10.0.0.1", Server: true}, {Name: "s", Address: "10.0.0.2", Server: true}}, "given twice"},
		{[]Node{{Name: "../x", Address: "10.0.0.1", Server: true}}, "plain name"},
	} {
		dir := t.TempDir()
		_, err := WriteClusterSecrets(filepath.Join(dir, "s"), tc.nodes)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.nodes, err, tc.want)
		}
		if _, err := os.Stat(filepath.Join(dir, "s")); err == nil {
			t.Errorf("%v: wrote %s anyway", tc.nodes, filepath.Join(dir, "s"))
		}
	}
}
