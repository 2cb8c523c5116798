package devstack_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/bootstrap"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// TestSecureClusterBootsAndReleases boots `hstack dev up --cluster
// --secure` (3 servers, 2 clients, the provisioning scripts' production
// mode) and checks what production runs with: every agent serves only TLS,
// anonymous requests are denied by ACLs in all three products, Consul's
// and Nomad's gossip is encrypted with the stack's keys, hstack's own
// clients reach it through the dev.env variables (several servers, the
// CA, the tokens), and pingapp is released across the zones with
// Postgres credentials Vault issues through its TLS load balancer.
func TestSecureClusterBootsAndReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a 5-node secure cluster of Nomad, Consul and Vault")
	}
	start := time.Now()
	s := devstacktest.Start(t, devstacktest.Cluster(2), devstacktest.Secure)
	var rss int64
	for _, pid := range s.Processes() {
		rss += devstack.RSS(pid)
	}
	t.Logf("secure cluster up in %v, %d processes, %.0f MB RSS", time.Since(start).Round(100*time.Millisecond), len(s.Processes()), float64(rss)/(1<<20))
	ctx := context.Background()
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	if !s.Secure() || !s.IsCluster() {
		t.Fatalf("secure=%v cluster=%v", s.Secure(), s.IsCluster())
	}

	t.Run("status: one leader per product, every agent healthy", func(t *testing.T) { checkClusterStatus(t, s) })

	t.Run("every Consul agent runs on a token of its own", func(t *testing.T) {
		// Under default deny an agent on the anonymous token cannot
		// register its node: all five in the catalog means each got its
		// agent token (bootstrap.Options.ConsulAgents).
		nodes, _, err := consul.Catalog().Nodes(nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, n := range nodes {
			names = append(names, n.Node)
		}
		if len(nodes) != len(s.Nodes()) {
			t.Errorf("consul catalog nodes %v, want all %d", names, len(s.Nodes()))
		}
	})

	t.Run("every agent serves only TLS", func(t *testing.T) {
		plain := &http.Client{Timeout: 5 * time.Second}
		var checked int
		for _, n := range s.Nodes() {
			products := []string{devstack.Consul, devstack.Nomad}
			if n.Server {
				products = append(products, devstack.Vault)
			}
			for _, p := range products {
				addr := s.NodeAddr(n, p)
				if !strings.HasPrefix(addr, "https://") {
					t.Errorf("%s on %s: address %s", p, n.Name, addr)
					continue
				}
				// Plain HTTP on the TLS port: Go's TLS servers answer a
				// 400 "client sent an HTTP request to an HTTPS server".
				resp, err := plain.Get("http://" + strings.TrimPrefix(addr, "https://") + "/v1/status/leader")
				if err == nil {
					_ = resp.Body.Close() // only the status matters
					if resp.StatusCode != http.StatusBadRequest {
						t.Errorf("%s on %s answers plain http with %s", p, n.Name, resp.Status)
					}
				}
				// HTTPS without the stack's CA: the certificate is not trusted.
				if resp, err := plain.Get(addr + "/v1/status/leader"); err == nil {
					_ = resp.Body.Close() // only that it connected matters
					t.Errorf("%s on %s: https without the CA was accepted", p, n.Name)
				} else if !strings.Contains(err.Error(), "certificate") {
					t.Errorf("%s on %s: https without the CA: %v, want a certificate error", p, n.Name, err)
				}
				checked++
			}
			// Consul's plain HTTP port is off.
			if c, err := net.DialTimeout("tcp", net.JoinHostPort(n.Address, "8500"), 2*time.Second); err == nil {
				_ = c.Close() // only that it connected matters
				t.Errorf("consul on %s listens on plain http 8500", n.Name)
			}
		}
		// The Vault load balancer is NET.10 (ClusterSpec.VaultLBAddress).
		first := s.Nodes()[0].Address
		lb := first[:strings.LastIndex(first, ".")] + ".10"
		if resp, err := plain.Get("http://" + lb + ":8200/v1/sys/health"); err == nil {
			_ = resp.Body.Close() // only the status matters
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("the Vault load balancer passes plain http: %s", resp.Status)
			}
		}
		t.Logf("%d agent APIs refuse plain http and untrusted https", checked)
	})

	t.Run("anonymous requests are denied in all three products", func(t *testing.T) {
		cli := s.ClientConfig()
		cli.Nomad.Token, cli.Consul.Token, cli.Vault.Token = "", "", ""
		an, err := clients.Nomad(cli)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := an.Jobs().List(nil); !isDenied(err) {
			t.Errorf("nomad: anonymous job list: %v, want 403", err)
		}
		ac, err := clients.Consul(cli)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ac.KV().Put(&consulapi.KVPair{Key: "hstack/anonymous", Value: []byte("x")}, nil); !isDenied(err) {
			t.Errorf("consul: anonymous KV write: %v, want 403", err)
		}
		if _, err := ac.Agent().Self(); !isDenied(err) {
			t.Errorf("consul: anonymous agent self: %v, want 403", err)
		}
		av, err := clients.Vault(cli)
		if err != nil {
			t.Fatal(err)
		}
		av.ClearToken()
		if _, err := av.Sys().ListMountsWithContext(ctx); !isDenied(err) {
			t.Errorf("vault: anonymous list mounts: %v, want 403", err)
		}
	})

	t.Run("gossip is encrypted with the stack's keys", func(t *testing.T) {
		vc, err := s.VaultClient()
		if err != nil {
			t.Fatal(err)
		}
		mgmt, err := bootstrap.ReadToken(ctx, vc, "consul/bootstrap")
		if err != nil {
			t.Fatal(err)
		}
		rings, err := consul.Operator().KeyringList(&consulapi.QueryOptions{Token: mgmt.Secret.Reveal()})
		if err != nil {
			t.Fatal(err)
		}
		secrets := s.Secrets()
		var lanNodes int
		for _, r := range rings {
			if len(r.Keys) != 1 || r.Keys[secrets["consul gossip key"]] == 0 {
				t.Errorf("consul %s keyring (%s): %d keys, want the stack's one", r.Datacenter, map[bool]string{true: "wan", false: "lan"}[r.WAN], len(r.Keys))
			}
			if !r.WAN {
				lanNodes = r.NumNodes
			}
		}
		if lanNodes != len(s.Nodes()) {
			t.Errorf("consul LAN keyring answered by %d nodes, want %d", lanNodes, len(s.Nodes()))
		}
		keys, err := nomad.Agent().ListKeys()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys.Keys) != 1 || keys.Keys[secrets["nomad gossip key"]] == 0 {
			t.Errorf("nomad servers' gossip keyring has %d keys, want the stack's one", len(keys.Keys))
		}
		t.Logf("consul gossip: %d keyrings, the LAN one on %d nodes; nomad server gossip: %d key", len(rings), lanNodes, len(keys.Keys))
	})

	t.Run("hstack's clients through the dev.env variables", func(t *testing.T) {
		for _, kv := range s.Env() {
			t.Setenv(kv[0], kv[1])
		}
		for _, v := range []string{clients.EnvNomadAddrs, clients.EnvConsulAddrs, clients.EnvVaultAddrs} {
			if n := strings.Count(envOf(s, v), "https://"); n != 3 {
				t.Errorf("%s lists %d https servers, want 3", v, n)
			}
		}
		nc, err := clients.Nomad(clients.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := nc.Nodes().List(nil); err != nil {
			t.Errorf("nomad: %v", err)
		}
		cc, err := clients.Consul(clients.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.KV().Put(&consulapi.KVPair{Key: "hstack/secure-cluster-test", Value: []byte("ok")}, nil); err != nil {
			t.Errorf("consul: KV write with the hstack token: %v", err)
		}
		vcl, err := clients.Vault(clients.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := vcl.Auth().Token().LookupSelfWithContext(ctx); err != nil {
			t.Errorf("vault: %v", err)
		}
	})

	t.Run("up again is a no-op", func(t *testing.T) { checkClusterUpAgain(t, s, true) })

	t.Run("pingapp released across zones with Vault-issued credentials", func(t *testing.T) {
		releasePingappAcrossZones(t, s, nomad, consul)
		// The tasks' Vault is the load balancer, over TLS.
		nodes, _, err := nomad.Nodes().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			info, _, err := nomad.Nodes().Info(n.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := info.Attributes["vault.accessible"], "true"; got != want {
				t.Errorf("%s: vault.accessible=%q", n.Name, got)
			}
		}
	})
}

func envOf(s *devstack.Stack, name string) string {
	for _, kv := range s.Env() {
		if kv[0] == name {
			return kv[1]
		}
	}
	return ""
}

// isDenied: the product answered 403 (ACL denied), not some other error.
func isDenied(err error) bool {
	if err == nil {
		return false
	}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode == http.StatusForbidden
	}
	if code, ok := clients.StatusCode(err); ok {
		return code == http.StatusForbidden
	}
	return strings.Contains(err.Error(), "403") || strings.Contains(fmt.Sprint(err), "Permission denied")
}
