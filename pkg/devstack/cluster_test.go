package devstack

import (
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/provision"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

func TestClusterNodes(t *testing.T) {
	nodes, err := ClusterNodes("", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Node{
		{Name: "server-1", Address: "127.0.0.11", Server: true},
		{Name: "server-2", Address: "127.0.0.12", Server: true},
		{Name: "server-3", Address: "127.0.0.13", Server: true},
		{Name: "client-1", Address: "127.0.0.21", Client: true},
		{Name: "client-2", Address: "127.0.0.22", Client: true},
	}
	if !reflect.DeepEqual(nodes, want) {
		t.Errorf(`ClusterNodes("", 3, 2) = %+v`, nodes)
	}
	other, err := ClusterNodes("127.0.1", 3, 2)
	if err != nil || other[2].Address != "127.0.1.13" || other[4].Address != "127.0.1.22" {
		t.Errorf(`ClusterNodes("127.0.1", 3, 2) = %+v, %v`, other, err)
	}
	for _, net := range []string{"10.0.0", "127.0", "127.0.0.1", "127.0.300", "localhost"} {
		if _, err := ClusterNodes(net, 3, 2); err == nil || !strings.Contains(err.Error(), net) {
			t.Errorf("ClusterNodes(%q, 3, 2): %v, want an error naming it", net, err)
		}
	}
	if got := (&ClusterSpec{}).VaultLBAddress(); got != "127.0.0.10" {
		t.Errorf("an old state's Vault load balancer at %s, want 127.0.0.10", got)
	}
	if got := (&ClusterSpec{Net: "127.0.4"}).VaultLBAddress(); got != "127.0.4.10" {
		t.Errorf("Vault load balancer at %s, want 127.0.4.10", got)
	}
	for _, bad := range [][2]int{{2, 2}, {0, 2}, {9, 2}, {3, 0}, {3, 7}} {
		if _, err := ClusterNodes("", bad[0], bad[1]); err == nil {
			t.Errorf("ClusterNodes(%d, %d) accepted", bad[0], bad[1])
		}
	}
}

func TestClusterRenders(t *testing.T) {
	nodes, _ := ClusterNodes("", 3, 2)
	r := ClusterRenders("/c", nodes, "")
	var roles []string
	for _, n := range r {
		roles = append(roles, n.Name+"/"+n.Role)
	}
	if want := []string{"server-1/server", "server-1/vault", "server-2/server", "server-2/vault", "server-3/server", "server-3/vault",
		"client-1/client", "client-2/client"}; !reflect.DeepEqual(roles, want) {
		t.Fatalf("renders %q, want %q", roles, want)
	}
	v := r[3]
	if !v.Colocated || v.Root != "/c/server-2" || !reflect.DeepEqual(v.VaultPeers, []string{"http://127.0.0.11:8200", "http://127.0.0.13:8200"}) {
		t.Errorf("server-2's vault: %+v", v)
	}
	c1, c2 := r[6], r[7]
	if c1.Zone != "zone-a" || c2.Zone != "zone-b" || !c1.RawExec {
		t.Errorf("clients' zones %q %q, raw_exec %v", c1.Zone, c2.Zone, c1.RawExec)
	}
	if c1.MaxDynamicPort >= c2.MinDynamicPort || c1.MinDynamicPort > c1.MaxDynamicPort {
		t.Errorf("dynamic port ranges overlap: %d-%d and %d-%d", c1.MinDynamicPort, c1.MaxDynamicPort, c2.MinDynamicPort, c2.MaxDynamicPort)
	}
	for _, n := range r {
		if n.Secure || n.TLSDir != "" {
			t.Errorf("%s: secure without secrets", n.Name)
		}
		if !reflect.DeepEqual(n.Servers, []string{"127.0.0.11", "127.0.0.12", "127.0.0.13"}) {
			t.Errorf("%s joins %v", n.Name, n.Servers)
		}
	}
	s := ClusterRenders("/c", nodes, "/s")[0]
	if !s.Secure || s.TLSDir != "/s/nodes/server-1/tls" || s.NomadKey != "/s/nodes/server-1/nomad-gossip.key" || s.BootstrapExpect != 3 {
		t.Errorf("secure server-1: %+v", s)
	}
	if v := ClusterRenders("/c", nodes, "/s")[1]; v.VaultPeers[0] != "https://127.0.0.12:8200" {
		t.Errorf("secure vault peers %v", v.VaultPeers)
	}
}

// Every node of the loopback cluster, plain and secure, rendered by the
// real scripts into its own directory; the real Consul and Nomad accept
// each node's configs, servers are Consul servers with a Vault config,
// clients are not.
func TestClusterRendersValidConfigs(t *testing.T) {
	consul, err := tools.Find("consul")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	nomad, err := tools.Find("nomad")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	nodes, _ := ClusterNodes("", 3, 2)
	for _, secure := range []bool{false, true} {
		name := "plain"
		if secure {
			name = "secure"
		}
		t.Run(name, func(t *testing.T) {
			dir, secrets := t.TempDir(), ""
			if secure {
				secrets = filepath.Join(t.TempDir(), "secrets")
				if _, err := WriteClusterSecrets(secrets, nodes); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range ClusterRenders(dir, nodes, secrets) {
				cmd := exec.Command(filepath.Join("..", "..", "scripts", "provision", r.Role+".sh"), r.Args("")...)
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s %s.sh: %v\n%s", r.Name, r.Role, err, out)
				}
			}
			for _, n := range nodes {
				root := filepath.Join(dir, n.Name)
				for _, v := range [][]string{{consul, "validate", provision.ConfigDir(root, "consul")}, {nomad, "config", "validate", provision.ConfigDir(root, "nomad")}} {
					cmd := exec.Command(v[0], v[1:]...)
					cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
					if out, err := cmd.CombinedOutput(); err != nil {
						t.Errorf("%s: %s: %v\n%s", n.Name, strings.Join(v[1:], " "), err, out)
					}
				}
				hcl, _ := os.ReadFile(filepath.Join(provision.ConfigDir(root, "consul"), "consul.hcl"))
				if strings.Contains(string(hcl), "server           = true") != n.Server {
					t.Errorf("%s: Consul server is %v", n.Name, !n.Server)
				}
				if !strings.Contains(string(hcl), `bind_addr   = "`+n.Address+`"`) || !strings.Contains(string(hcl), root) {
					t.Errorf("%s: consul.hcl not bound to %s or not under its root:\n%s", n.Name, n.Address, hcl)
				}
				if n.Client {
					// The node meta the ingress binds and resolves by.
					nomadHCL, _ := os.ReadFile(filepath.Join(provision.ConfigDir(root, "nomad"), "nomad.hcl"))
					for _, line := range []string{`ingress_address = "` + n.Address + `"`, `consul_dns_addr = "` + n.Address + `:8600"`} {
						if !strings.Contains(string(nomadHCL), line) {
							t.Errorf("%s: nomad.hcl lacks %s:\n%s", n.Name, line, nomadHCL)
						}
					}
				}
				vault, err := os.ReadFile(filepath.Join(provision.ConfigDir(root, "vault"), "vault.hcl"))
				if (err == nil) != n.Server {
					t.Errorf("%s: vault.hcl present = %v", n.Name, err == nil)
				}
				if n.Server && secure != strings.Contains(string(vault), "tls_cert_file") {
					t.Errorf("%s: vault TLS = %v, want %v", n.Name, !secure, secure)
				}
			}
		})
	}
}

// TestClusterLBConfig: the cluster's one HAProxy holds Vault's load
// balancer and the front load balancer over every client's ingress, and
// the real haproxy accepts the config.
func TestClusterLBConfig(t *testing.T) {
	nodes, _ := ClusterNodes("127.0.9", 3, 3)
	spec := &ClusterSpec{Servers: 3, Clients: 3, Nodes: nodes, Net: "127.0.9"}
	cfg := clusterLBConfig(spec, "")
	for _, want := range []string{
		"frontend vault\n  bind 127.0.9.10:8200\n",
		"  server server-2 127.0.9.12:8200 check\n",
		"frontend ingress\n  mode http\n  timeout client 30s\n  bind 127.0.9.10:8080\n",
		"  option httpchk GET /haproxy-health\n",
		"  server client-1 127.0.9.21:8080 check\n  server client-2 127.0.9.22:8080 check\n  server client-3 127.0.9.23:8080 check\n",
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("config lacks %q:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "server-1 127.0.9.11:8080") || strings.Contains(cfg, "client-1 127.0.9.21:8200") {
		t.Errorf("a server behind the ingress or a client behind Vault:\n%s", cfg)
	}
	if got := spec.IngressLBURL(); got != "http://127.0.9.10:8080" {
		t.Errorf("IngressLBURL = %q", got)
	}
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		testenv.Missing(t, "haproxy checks the config (Debian package haproxy): "+err.Error())
	}
	path := filepath.Join(t.TempDir(), "lb.cfg")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput(); err != nil || strings.Contains(string(out), "WARNING") || strings.Contains(string(out), "ALERT") {
		t.Errorf("haproxy -c: %v\n%s\n%s", err, out, cfg)
	}
}
