package devstack

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
)

// Every node of a cluster gets certificates that verify, against the
// stack's CA, under the names the products check on RPC and HTTPS.
func TestPKIIssuesProductNames(t *testing.T) {
	p, err := newPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	nodes := []Node{
		{Name: "server-1", Address: "127.0.0.11", Server: true},
		{Name: "server-2", Address: "127.0.0.12", Server: true},
		{Name: "client-1", Address: "127.0.0.21", Client: true},
	}
	roots := x509.NewCertPool()
	roots.AddCert(p.caCert)
	for _, n := range nodes {
		c, err := p.issueNode(n)
		if err != nil {
			t.Fatal(err)
		}
		checks := map[string][]string{
			c.Consul.Cert: {"client.dc1.consul", "localhost", n.Address},
		}
		if n.Server {
			checks[c.Nomad.Cert] = []string{"server.global.nomad", "localhost", n.Address, "127.0.0.1"}
			checks[c.Consul.Cert] = append(checks[c.Consul.Cert], "server.dc1.consul")
			checks[c.Vault.Cert] = []string{"localhost", "active.vault.service.consul", n.Address}
		} else {
			checks[c.Nomad.Cert] = []string{"client.global.nomad", "localhost", n.Address}
			if c.Vault.Cert != "" {
				t.Errorf("%s: a client node got a Vault certificate", n.Name)
			}
		}
		for file, names := range checks {
			cert := readCert(t, file)
			for _, name := range names {
				if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}); err != nil {
					t.Errorf("%s for %s: %v", file, name, err)
				}
			}
		}
		if n.Server {
			if _, err := readCert(t, c.Nomad.Cert).Verify(x509.VerifyOptions{DNSName: "client.global.nomad", Roots: roots}); err == nil {
				t.Errorf("%s: a server-only certificate passes as a Nomad client", n.Name)
			}
		}
		st, err := os.Stat(c.Nomad.Key)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("key %s: mode %v, %v; want 0600", c.Nomad.Key, st.Mode().Perm(), err)
		}
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
