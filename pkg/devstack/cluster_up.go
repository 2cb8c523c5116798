package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/hcl/v2/hclwrite"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"
	"github.com/zclconf/go-cty/cty"

	"github.com/hstack-dev/hstack/pkg/bootstrap"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/provision"
	"github.com/hstack-dev/hstack/pkg/tools"
	provisionscripts "github.com/hstack-dev/hstack/scripts/provision"
)

// The loopback cluster (`hstack dev up --cluster`): the stack with more
// than one node. Postgres, Vault's initialisation and wiring, the waits,
// the daemons, the env file and Down are the single-node stack's; what
// differs is the node list and that each node's agents run the configs
// scripts/provision renders for its role, as on the images and in Vagrant.

// ClusterSpec is the shape of a cluster stack, kept in its state.
type ClusterSpec struct {
	Servers int    `json:"servers"`
	Clients int    `json:"clients"`
	Nodes   []Node `json:"nodes"`
	// Net is the loopback /24 the nodes are on ("" in states written
	// before it could be chosen: DefaultClusterNet).
	Net string `json:"net,omitempty"`
}

// VaultLBAddress is where the cluster's Vault load balancer listens: a
// HAProxy standing in for production's internal load balancer in front of
// the Vault nodes (terraform/modules/vault, vault_addr). Nomad clients
// reach Vault through it, so a task still gets credentials when the node
// its client would otherwise have used is gone.
func (c *ClusterSpec) VaultLBAddress() string { return c.network() + ".10" }

// ClusterIngressPort is the port of the clients' ingress that the cluster's
// front load balancer forwards, on the same port, as production's ALB does
// (terraform/modules/alb, ingress_port, default 8080): the stack file's
// default ingress port. A stack whose ingress listens elsewhere is reached
// on each client's address only.
const ClusterIngressPort = 8080

// IngressLBURL is the cluster's front door: the load balancer (the Vault
// load balancer's HAProxy, one process) in front of every client's ingress,
// standing in for production's ALB.
func (c *ClusterSpec) IngressLBURL() string {
	return fmt.Sprintf("http://%s:%d", c.VaultLBAddress(), ClusterIngressPort)
}

func (c *ClusterSpec) network() string {
	if c.Net == "" {
		return DefaultClusterNet
	}
	return c.Net
}

// Vault's Shamir split in the cluster: every node is unsealed with
// clusterUnsealThreshold of the clusterUnsealShares keys (kept in the 0600
// state file, in dev only).
const (
	clusterUnsealShares    = 3
	clusterUnsealThreshold = 2
)

// clusterProc is one agent of one node.
type clusterProc struct {
	node    Node
	product string // Consul, Vault or Nomad
}

// name is the agent's key in the state file and its log's name.
func (p clusterProc) name() string { return p.node.Name + "/" + p.product }

// clusterProcs are the cluster's agents in start order: the Consul servers
// (which elect a leader only once all of bootstrap_expect are up), the
// Consul clients, the Vault nodes, the Nomad servers, the Nomad clients.
func (s *Stack) clusterProcs() []clusterProc {
	var ps []clusterProc
	nodes := s.state.Cluster.Nodes
	for _, step := range []struct {
		product string
		server  bool
	}{{Consul, true}, {Consul, false}, {Vault, true}, {Nomad, true}, {Nomad, false}} {
		for _, n := range nodes {
			if n.Server == step.server {
				ps = append(ps, clusterProc{n, step.product})
			}
		}
	}
	return ps
}

// agent is the cluster agent named name ("server-2/nomad").
func (s *Stack) agent(name string) (clusterProc, error) {
	if s.state.Cluster != nil {
		for _, p := range s.clusterProcs() {
			if p.name() == name {
				return p, nil
			}
		}
	}
	return clusterProc{}, fmt.Errorf("no agent %s in the cluster", name)
}

// nodeRoot is the node's directory, laid out as the scripts lay out /.
func (s *Stack) nodeRoot(n Node) string { return s.path("nodes", n.Name) }

func (s *Stack) procConfigDir(p clusterProc) string {
	return provision.ConfigDir(s.nodeRoot(p.node), p.product)
}

func (s *Stack) procLog(p clusterProc) string {
	return s.path("logs", p.node.Name+"-"+p.product+".log")
}

// clusterPorts are the products' standard ports, taken on each node's own
// address. They are checked on every node before anything is written.
var clusterTCPPorts = []int{8300, 8301, 8302, 8500, 8501, 8600, 4646, 4647, 4648, 8200, 8201}
var clusterUDPPorts = []int{8301, 8302, 8600, 4648}

func checkClusterPortsFree(spec *ClusterSpec) error {
	nodes := spec.Nodes
	lb := spec.VaultLBAddress()
	l, err := net.Listen("tcp", lb+":8200")
	if err != nil {
		return fmt.Errorf("port 8200 on %s (the cluster's Vault load balancer) is already in use: another cluster is running there (choose another network with --cluster-net)", lb)
	}
	_ = l.Close() // a probe: the port was free, which is all it asks
	if l, err = net.Listen("tcp", net.JoinHostPort(lb, strconv.Itoa(ClusterIngressPort))); err != nil {
		return fmt.Errorf("port %d on %s (the cluster's ingress load balancer) is already in use: another cluster is running there (choose another network with --cluster-net)", ClusterIngressPort, lb)
	}
	_ = l.Close() // a probe, as above
	for _, n := range nodes {
		for _, p := range clusterTCPPorts {
			l, err := net.Listen("tcp", net.JoinHostPort(n.Address, strconv.Itoa(p)))
			if err != nil {
				return fmt.Errorf("port %d on %s (%s) is already in use: another cluster is running there (stop it with `hstack dev down --dir DIR`, or choose another network with --cluster-net)", p, n.Address, n.Name)
			}
			_ = l.Close() // a probe: the port was free, which is all it asks
		}
		for _, p := range clusterUDPPorts {
			c, err := net.ListenPacket("udp", net.JoinHostPort(n.Address, strconv.Itoa(p)))
			if err != nil {
				return fmt.Errorf("udp port %d on %s (%s) is already in use", p, n.Address, n.Name)
			}
			_ = c.Close() // a probe, as above
		}
	}
	return nil
}

// clusterExtra are the dev-only additions each role gets beside the
// rendered configs (the scripts' --extra-config): fast Raft timing, the
// Vault wiring Nomad needs for workload identities, and tasks on loopback.
func (s *Stack) clusterExtra() (map[string]map[string][]string, error) {
	dir := s.path("cluster-extra")
	// #nosec G301 -- the files in it are 0600 (writeHCL); the directory shows only their names.
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	write := func(name string, f *hclwrite.File) (string, error) {
		p := filepath.Join(dir, name)
		return p, writeHCL(p, f)
	}
	consulServer, err := write("hstack-dev-consul.hcl", clusterConsulServerExtra())
	if err != nil {
		return nil, err
	}
	nomadServer, err := write("hstack-dev-nomad-server.hcl", s.clusterNomadExtra(true))
	if err != nil {
		return nil, err
	}
	nomadClient, err := write("hstack-dev-nomad-client.hcl", s.clusterNomadExtra(false))
	if err != nil {
		return nil, err
	}
	return map[string]map[string][]string{
		"server": {"consul": {consulServer}, "nomad": {nomadServer}},
		"client": {"nomad": {nomadClient}},
	}, nil
}

// clusterConsulServerExtra: Consul's production raft_multiplier (5) makes
// an election take several seconds; a dev cluster on one host can afford
// the tightest timing.
func clusterConsulServerExtra() *hclwrite.File {
	f := hclwrite.NewEmptyFile()
	f.Body().AppendNewBlock("performance", nil).Body().SetAttributeValue("raft_multiplier", cty.NumberIntVal(1))
	return f
}

// clusterNomadExtra is the vault block of a Nomad server (the identity it
// signs for tasks) or client (the Vault its tasks read from), the server's
// memory oversubscription as in the single-node stack, and a client's
// tasks on lo: every client's tasks then listen on 127.0.0.1, which is why
// each client has its own dynamic port range.
func (s *Stack) clusterNomadExtra(server bool) *hclwrite.File {
	f := hclwrite.NewEmptyFile()
	b := f.Body()
	v := b.AppendNewBlock("vault", nil).Body()
	v.SetAttributeValue("enabled", cty.True)
	// Through the load balancer: any live Vault node serves the tasks.
	v.SetAttributeValue("address", cty.StringVal(s.scheme()+"://"+s.state.Cluster.VaultLBAddress()+":8200"))
	v.SetAttributeValue("jwt_auth_backend_path", cty.StringVal(JWTAuthPath))
	if s.state.Secure {
		// The load balancer passes TLS through: the certificate is a Vault
		// node's, whose names include vault.service.consul but not the
		// balancer's address, as a production load balancer's DNS name
		// would be in the certificates.
		v.SetAttributeValue("ca_file", cty.StringVal(s.CAFile()))
		v.SetAttributeValue("tls_server_name", cty.StringVal(vaultLBServerName))
	}
	if server {
		if s.state.Secure {
			// As on the single node (nomadServerConfig): tasks log in to
			// Consul with an identity of their own.
			ti := b.AppendNewBlock("consul", nil).Body().AppendNewBlock("task_identity", nil).Body()
			ti.SetAttributeValue("aud", strs(bootstrap.ConsulAudience))
			ti.SetAttributeValue("ttl", cty.StringVal("1h"))
		}
		id := v.AppendNewBlock("default_identity", nil).Body()
		id.SetAttributeValue("aud", strs(VaultAudience))
		id.SetAttributeValue("ttl", cty.StringVal("1h"))
		sb := b.AppendNewBlock("server", nil).Body()
		sb.AppendNewBlock("default_scheduler_config", nil).Body().SetAttributeValue("memory_oversubscription_enabled", cty.True)
		// As on the single node (nomadServerConfig): Nomad 1.11.3 reaps
		// finished deployments at once (hashicorp/nomad#28210).
		sb.SetAttributeValue("deployment_gc_threshold", cty.StringVal(deploymentGCThreshold))
		return f
	}
	c := b.AppendNewBlock("client", nil).Body()
	c.SetAttributeValue("network_interface", cty.StringVal("lo"))
	return f
}

// renderCluster runs the embedded provisioning scripts for every node into
// nodes/<name>: the configs a production server or client gets, with the
// static join and the dev additions.
func (s *Stack) renderCluster() error {
	scripts := s.path("provision")
	if err := provisionscripts.WriteTo(scripts); err != nil {
		return err
	}
	// lib.sh takes the pinned versions from beside itself, as on an image.
	// #nosec G306 -- the pinned tool versions, public like the scripts beside them.
	if err := os.WriteFile(filepath.Join(scripts, "versions.env"), []byte(tools.VersionsEnv()), 0o644); err != nil {
		return err
	}
	extra, err := s.clusterExtra()
	if err != nil {
		return err
	}
	for _, r := range ClusterRenders(s.path("nodes"), s.state.Cluster.Nodes, s.clusterSecrets()) {
		r.Extra = extra[r.Role]
		if r.Role == "vault" {
			// As Consul's raft_multiplier above: Vault's storage stanza is
			// the script's to render, so the timing is its option.
			r.VaultRaftMultiplier = 1
		}
		// #nosec G204 -- the role scripts embedded in hstack itself, with arguments hstack renders.
		cmd := exec.Command("bash", append([]string{filepath.Join(scripts, r.Role+".sh")}, r.Args("")...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("scripts/provision/%s.sh for %s: %w\n%s", r.Role, r.Name, err, out)
		}
	}
	// Vault refuses a Raft directory others can read.
	for _, n := range s.state.Cluster.Nodes {
		if n.Server {
			// #nosec G302 -- a directory: 0700 is owner-only, what Vault wants.
			if err := os.Chmod(filepath.Join(s.nodeRoot(n), "opt", "vault", "data"), 0o700); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *Stack) startProc(p clusterProc) error {
	cfg := s.procConfigDir(p)
	var args []string
	switch p.product {
	case Consul:
		args = []string{"agent", "-config-dir", cfg}
	case Vault:
		args = []string{"server", "-config", cfg}
	case Nomad:
		args = []string{"agent", "-config", cfg}
		if err := s.writeNomadConsulToken(p); err != nil {
			return err
		}
	}
	pid, err := startDaemon(s.nodeRoot(p.node), s.procLog(p), nil, s.state.Bins[p.product], args...)
	if err != nil {
		return err
	}
	s.state.PIDs[p.name()] = pid
	return s.saveState()
}

// writeNomadConsulToken adds the Nomad agent's Consul token (role
// nomad-server or nomad-client) to its config dir in a secure cluster: it
// exists only once Consul's ACLs are bootstrapped, after the node's configs
// were rendered, as the single node renders its Nomad configs then.
func (s *Stack) writeNomadConsulToken(p clusterProc) error {
	if !s.state.Secure {
		return nil
	}
	role := "nomad-client"
	if p.node.Server {
		role = "nomad-server"
	}
	path := filepath.Join(s.procConfigDir(p), "hstack-dev-consul-token.hcl")
	tok := s.agentConsulTokens[role]
	if _, err := os.Stat(path); err == nil && tok == "" {
		return nil // a restart (RestartAgent) of an agent started before
	}
	if tok == "" {
		return fmt.Errorf("%s: no Consul token for %s (Consul's ACLs are not bootstrapped)", p.name(), role)
	}
	f := hclwrite.NewEmptyFile()
	f.Body().AppendNewBlock("consul", nil).Body().SetAttributeValue("token", cty.StringVal(tok))
	return writeHCL(path, f)
}

// vaultLBServerName is the name a secure cluster's clients check on the
// Vault load balancer's (passed-through) certificate: one of vaultNames.
const vaultLBServerName = "vault.service.consul"

// clusterConsulAgents are every Consul agent of the cluster but the one
// bootstrap talks to (the first server's), each by its own address.
func (s *Stack) clusterConsulAgents() []clients.ConsulConfig {
	cfg := s.ClientConfig().Consul
	var out []clients.ConsulConfig
	for _, n := range s.state.Cluster.Nodes[1:] {
		c := cfg
		c.Address = s.NodeAddr(n, Consul)
		out = append(out, c)
	}
	return out
}

// clusterVaultInit initialises Vault once, on the first server, and
// unseals every node with the same keys: the others join its Raft cluster
// (retry_join) as they are unsealed.
func (s *Stack) clusterVaultInit(ctx context.Context) error {
	var vaults []clusterProc
	for _, p := range s.clusterProcs() {
		if p.product != Vault {
			continue
		}
		vaults = append(vaults, p)
		if err := s.wait(ctx, p.name(), func(ctx context.Context) error {
			c, err := s.nodeVault(p.node)
			if err != nil {
				return err
			}
			_, err = c.Sys().InitStatusWithContext(ctx)
			return err
		}); err != nil {
			return err
		}
	}
	first, err := s.nodeVault(vaults[0].node)
	if err != nil {
		return err
	}
	inited, err := first.Sys().InitStatusWithContext(ctx)
	if err != nil {
		return err
	}
	if !inited {
		resp, err := first.Sys().InitWithContext(ctx, &vaultapi.InitRequest{SecretShares: clusterUnsealShares, SecretThreshold: clusterUnsealThreshold})
		if err != nil {
			return fmt.Errorf("vault init: %w", err)
		}
		s.state.VaultUnsealKeys = resp.Keys
		s.state.VaultToken = resp.RootToken
		if err := s.saveState(); err != nil {
			return err
		}
	}
	for i, p := range vaults {
		p := p
		check := func(ctx context.Context) error { return s.unsealNode(ctx, p.node) }
		if i == 0 {
			check = func(ctx context.Context) error {
				if err := s.unsealNode(ctx, p.node); err != nil {
					return err
				}
				return s.vaultReady(ctx)
			}
		}
		if err := s.wait(ctx, p.name(), check); err != nil {
			return err
		}
	}
	return nil
}

// unsealNode hands a sealed node the unseal keys and reports whether it is
// unsealed. A joining node takes them only once it has asked the leader to
// join, so it is retried.
func (s *Stack) unsealNode(ctx context.Context, n Node) error {
	c, err := s.nodeVault(n)
	if err != nil {
		return err
	}
	h, err := c.Sys().HealthWithContext(ctx)
	if err != nil {
		return err
	}
	if !h.Sealed && h.Initialized {
		return nil
	}
	var last error
	for _, k := range s.state.VaultUnsealKeys[:clusterUnsealThreshold] {
		st, err := c.Sys().UnsealWithContext(ctx, k)
		if err != nil {
			last = err
			break
		}
		if !st.Sealed {
			return nil
		}
	}
	if last != nil {
		return fmt.Errorf("vault on %s: unseal: %w", n.Name, last)
	}
	return fmt.Errorf("vault on %s still sealed", n.Name)
}

// clusterReady is the cluster as a whole: Raft groups of every server in
// Consul, Nomad and Vault, and every Nomad client in Consul's catalog.
func (s *Stack) clusterReady(ctx context.Context) error {
	want := s.state.Cluster.Servers
	peers, err := s.RaftPeers(ctx)
	if err != nil {
		return err
	}
	for _, product := range []string{Consul, Nomad, Vault} {
		if n := len(peers[product]); n != want {
			return fmt.Errorf("%s has %d raft peers, want %d", product, n, want)
		}
	}
	cc, err := s.ConsulClient()
	if err != nil {
		return err
	}
	svcs, _, err := cc.Health().Service("nomad-client", "", true, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	if len(svcs) != s.state.Cluster.Clients {
		return fmt.Errorf("%d nomad clients passing in consul, want %d", len(svcs), s.state.Cluster.Clients)
	}
	return nil
}

// RaftPeers lists each product's Raft voters by address (a single-node
// stack's Consul runs in dev mode, and is left out).
func (s *Stack) RaftPeers(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	cc, err := s.ConsulClient()
	if err != nil {
		return nil, err
	}
	// Nomad serves its Raft configuration to a management token only, and
	// Consul's hstack token has no operator:read: a secure stack reads
	// them with the management tokens kept in Vault KV.
	consulMgmt, err := s.managementToken(ctx, Consul)
	if err != nil {
		return nil, err
	}
	nomadMgmt, err := s.managementToken(ctx, Nomad)
	if err != nil {
		return nil, err
	}
	cr, err := cc.Operator().RaftGetConfiguration((&consulapi.QueryOptions{Token: consulMgmt}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("consul raft: %w", err)
	}
	for _, srv := range cr.Servers {
		if srv.Voter {
			out[Consul] = append(out[Consul], srv.Address)
		}
	}
	nc, err := s.NomadClient()
	if err != nil {
		return nil, err
	}
	nr, err := nc.Operator().RaftGetConfiguration((&nomadapi.QueryOptions{AuthToken: nomadMgmt}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("nomad raft: %w", err)
	}
	for _, srv := range nr.Servers {
		if srv.Voter {
			out[Nomad] = append(out[Nomad], srv.Address)
		}
	}
	vc, err := s.VaultClient()
	if err != nil {
		return nil, err
	}
	vr, err := vc.Sys().RaftAutopilotStateWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("vault raft: %w", err)
	}
	if vr != nil {
		for _, srv := range vr.Servers {
			if srv.Status == "leader" || srv.Status == "voter" {
				out[Vault] = append(out[Vault], srv.Address)
			}
		}
	}
	return out, nil
}

// managementToken is product's ACL bootstrap token from Vault KV ("" on a
// stack without ACLs: requests then carry none).
func (s *Stack) managementToken(ctx context.Context, product string) (string, error) {
	if !s.state.Secure {
		return "", nil
	}
	vc, err := s.VaultClient()
	if err != nil {
		return "", err
	}
	t, err := bootstrap.ReadToken(ctx, vc, product+"/bootstrap")
	if err != nil {
		return "", err
	}
	return t.Secret.Reveal(), nil
}

// procConsulLeader: the node's own agent knows a leader.
func (s *Stack) procConsulLeader(ctx context.Context, n Node) error {
	c, err := s.nodeConsul(n)
	if err != nil {
		return err
	}
	return consulHasLeader(c)
}

func (s *Stack) procNomadLeader(ctx context.Context, n Node) error {
	c, err := s.nodeNomad(n)
	if err != nil {
		return err
	}
	l, err := c.Status().Leader()
	if err != nil {
		return err
	}
	if l == "" {
		return errors.New("no nomad leader yet")
	}
	return nil
}

// nomadNodeReady: the client n is registered, ready, with raw_exec healthy.
func (s *Stack) nomadNodeReady(ctx context.Context, n Node) error {
	c, err := s.NomadClient()
	if err != nil {
		return err
	}
	nodes, _, err := c.Nodes().List((&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	for _, nd := range nodes {
		if nd.Name != n.Name {
			continue
		}
		if nd.Status != nomadapi.NodeStatusReady {
			return fmt.Errorf("node %s is %s", nd.Name, nd.Status)
		}
		if d, ok := nd.Drivers["raw_exec"]; !ok || !d.Healthy {
			return fmt.Errorf("node %s: raw_exec driver not healthy yet", nd.Name)
		}
		return nil
	}
	return fmt.Errorf("node %s not registered with the servers yet", n.Name)
}

// Per-node API clients, built once each (see Stack.clientsMu).
func (s *Stack) nodeConsul(n Node) (*consulapi.Client, error) {
	return cachedClient(&s.clientsMu, &s.nodeClients.consul, n.Name, func() (*consulapi.Client, error) {
		cfg := consulapi.DefaultConfig()
		cfg.Address = net.JoinHostPort(n.Address, strconv.Itoa(s.Ports.ConsulHTTP))
		cfg.Scheme = s.scheme()
		cfg.Token, cfg.TokenFile = "", ""
		cfg.TLSConfig = consulapi.TLSConfig{}
		if s.state.Secure {
			cli := s.cliCert()
			cfg.TLSConfig = consulapi.TLSConfig{CAFile: s.CAFile(), CertFile: cli.Cert, KeyFile: cli.Key}
		}
		return consulapi.NewClient(cfg)
	})
}

func (s *Stack) nodeNomad(n Node) (*nomadapi.Client, error) {
	return cachedClient(&s.clientsMu, &s.nodeClients.nomad, n.Name, func() (*nomadapi.Client, error) {
		cfg := nomadapi.DefaultConfig()
		cfg.Address = s.NodeAddr(n, Nomad)
		cfg.Namespace, cfg.Region = "", ""
		// Status needs no token; the agent API does (ACLs, secure only).
		cfg.SecretID = s.state.NomadToken
		cfg.TLSConfig = &nomadapi.TLSConfig{CACert: s.caFileIfSecure()}
		return nomadapi.NewClient(cfg)
	})
}

// nodeVault is unauthenticated: health, init and unseal need no token.
func (s *Stack) nodeVault(n Node) (*vaultapi.Client, error) {
	return cachedClient(&s.clientsMu, &s.nodeClients.vault, n.Name, func() (*vaultapi.Client, error) {
		cfg := vaultapi.DefaultConfig()
		if cfg.Error != nil {
			return nil, cfg.Error
		}
		cfg.Address = s.scheme() + "://" + net.JoinHostPort(n.Address, "8200")
		tlsc := &vaultapi.TLSConfig{CACert: s.caFileIfSecure()}
		if n.Name == vaultLB && s.state.Secure {
			tlsc.TLSServerName = vaultLBServerName
		}
		if err := cfg.ConfigureTLS(tlsc); err != nil {
			return nil, err
		}
		c, err := vaultapi.NewClient(cfg)
		if err != nil {
			return nil, err
		}
		c.ClearToken()
		c.ClearNamespace()
		// One node's answer, now: a dead node must not cost the caller the
		// library's retries (seconds of backoff) before the next is asked.
		c.SetMaxRetries(0)
		return c, nil
	})
}

// cachedClient returns the client for node name in *m, building it the
// first time.
func cachedClient[C any](mu *sync.Mutex, m *map[string]*C, name string, build func() (*C, error)) (*C, error) {
	mu.Lock()
	defer mu.Unlock()
	if c := (*m)[name]; c != nil {
		return c, nil
	}
	c, err := build()
	if err != nil {
		return nil, err
	}
	if *m == nil {
		*m = map[string]*C{}
	}
	(*m)[name] = c
	return c, nil
}

// procStatus is one agent's line of `dev status`: its health and, for a
// server, whether it leads its Raft group.
func (s *Stack) procStatus(ctx context.Context, p clusterProc) (role string, err error) {
	switch p.product {
	case Consul:
		c, err := s.nodeConsul(p.node)
		if err != nil {
			return "", err
		}
		l, err := c.Status().Leader()
		if err != nil {
			return "", err
		}
		if !p.node.Server {
			if l == "" {
				return "", errors.New("no consul leader")
			}
			return "client", nil
		}
		return leaderOrFollower(l, p.node.Address), nil
	case Nomad:
		c, err := s.nodeNomad(p.node)
		if err != nil {
			return "", err
		}
		if !p.node.Server {
			self, err := c.Agent().Self()
			if err != nil {
				return "", err
			}
			_ = self
			return "client (" + ClusterZone(s.state.Cluster.Nodes, p.node) + ")", s.nomadNodeReady(ctx, p.node)
		}
		l, err := c.Status().Leader()
		if err != nil {
			return "", err
		}
		return leaderOrFollower(l, p.node.Address), nil
	case Vault:
		c, err := s.nodeVault(p.node)
		if err != nil {
			return "", err
		}
		h, err := c.Sys().HealthWithContext(ctx)
		if err != nil {
			return "", err
		}
		if !h.Initialized || h.Sealed {
			return "", fmt.Errorf("initialized=%v sealed=%v", h.Initialized, h.Sealed)
		}
		if h.Standby {
			return "standby", nil
		}
		return "active", nil
	}
	return "", fmt.Errorf("unknown product %s", p.product)
}

// leaderOrFollower: leader is host:port as the products report it.
func leaderOrFollower(leader, addr string) string {
	if leader == "" {
		return "no leader"
	}
	if h, _, err := net.SplitHostPort(leader); err == nil && h == addr {
		return "leader"
	}
	return "follower"
}

// ClusterZone is the zone client n carries in its node meta (round robin
// over ClusterZones, as ClusterRenders assigns them).
func ClusterZone(nodes []Node, n Node) string {
	i := 0
	for _, m := range nodes {
		if !m.Client {
			continue
		}
		if m.Name == n.Name {
			return ClusterZones[i%len(ClusterZones)]
		}
		i++
	}
	return ""
}

// KillAgent SIGKILLs one agent of the cluster ("server-2/nomad"), as a
// crash would, and returns its pid. Failure tests use it.
func (s *Stack) KillAgent(name string) (int, error) {
	p, err := s.agent(name)
	if err != nil {
		return 0, err
	}
	pid := s.state.PIDs[p.name()]
	if !processAlive(pid, s.procConfigDir(p)) {
		return 0, fmt.Errorf("%s is not running", name)
	}
	if err := killProcess(pid, s.procConfigDir(p)); err != nil {
		return 0, err
	}
	return pid, nil
}

// StopAgent stops an agent as systemd stops the production units (SIGINT,
// then SIGKILL after grace, the unit's TimeoutStopSec) and waits until it
// is gone. Unlike `dev down` it leaves a client's tasks to the agent.
func (s *Stack) StopAgent(name string, grace time.Duration) error {
	p, err := s.agent(name)
	if err != nil {
		return err
	}
	return stopProcessWith(s.state.PIDs[p.name()], s.procConfigDir(p), grace, syscall.SIGINT)
}

// ConfigDir is where an agent's configuration lives (a file added there
// is read on its next start, as Nomad and Consul read every file of it).
func (s *Stack) ConfigDir(name string) (string, error) {
	p, err := s.agent(name)
	if err != nil {
		return "", err
	}
	return s.procConfigDir(p), nil
}

// Nodes are the stack's nodes: a cluster's, or the single node.
func (s *Stack) Nodes() []Node {
	if s.state.Cluster != nil {
		return append([]Node(nil), s.state.Cluster.Nodes...)
	}
	return s.nodes()
}

// IsCluster reports whether the stack is a multi-node cluster.
func (s *Stack) IsCluster() bool { return s.state.Cluster != nil }

// serverURLs are product's API addresses on every server node, the first
// server's first (hstack's clients try them in turn, pkg/failover).
func (s *Stack) serverURLs(product string) []*url.URL {
	var us []*url.URL
	for _, n := range s.state.Cluster.Nodes {
		if n.Server {
			u, _ := url.Parse(s.NodeAddr(n, product))
			us = append(us, u)
		}
	}
	return us
}

func joinURLs(us []*url.URL) string {
	var ss []string
	for _, u := range us {
		ss = append(ss, u.String())
	}
	return strings.Join(ss, ",")
}

// NodeAddr is the API address of product on node ("http://127.0.0.12:4646").
func (s *Stack) NodeAddr(n Node, product string) string {
	return s.scheme() + "://" + net.JoinHostPort(n.Address, strconv.Itoa(standardPort[product](s.Ports)))
}

// KillNode SIGKILLs every agent of node and, on a client, every task it
// runs, as a host dying would. It returns the agents it killed.
func (s *Stack) KillNode(node string) ([]string, error) {
	var killed []string
	var root string
	for _, p := range s.clusterProcs() {
		if p.node.Name != node {
			continue
		}
		root = s.nodeRoot(p.node)
		if _, err := s.KillAgent(p.name()); err != nil {
			return killed, err
		}
		killed = append(killed, p.name())
	}
	if root == "" {
		return nil, fmt.Errorf("no node %s in the cluster", node)
	}
	for _, pid := range processesUnder(root) {
		_ = killProcess(pid, "")
	}
	return killed, nil
}

// RestartAgent starts a stopped agent again on its data (it rejoins its
// cluster) and waits until it is healthy.
func (s *Stack) RestartAgent(ctx context.Context, name string) error {
	p, err := s.agent(name)
	if err != nil {
		return err
	}
	if processAlive(s.state.PIDs[name], s.procConfigDir(p)) {
		return nil
	}
	if err := s.startProc(p); err != nil {
		return err
	}
	check := func(ctx context.Context) error { _, err := s.procStatus(ctx, p); return err }
	if p.product == Vault {
		check = func(ctx context.Context) error { return s.unsealNode(ctx, p.node) }
	}
	return s.wait(ctx, name, check)
}

// LeaderNode is the server node whose product agent leads its Raft group,
// as the other servers see it.
func (s *Stack) LeaderNode(ctx context.Context, product string) (Node, error) {
	for _, n := range s.state.Cluster.Nodes {
		if !n.Server {
			continue
		}
		var leader string
		switch product {
		case Nomad:
			c, err := s.nodeNomad(n)
			if err != nil {
				return Node{}, err
			}
			if leader, err = c.Status().Leader(); err != nil {
				continue
			}
		case Consul:
			c, err := s.nodeConsul(n)
			if err != nil {
				return Node{}, err
			}
			if leader, err = c.Status().Leader(); err != nil {
				continue
			}
		case Vault:
			c, err := s.nodeVault(n)
			if err != nil {
				return Node{}, err
			}
			h, err := c.Sys().HealthWithContext(ctx)
			if err != nil || h.Sealed || h.Standby {
				continue
			}
			return n, nil
		}
		host, _, _ := net.SplitHostPort(leader)
		for _, m := range s.state.Cluster.Nodes {
			if m.Server && m.Address == host {
				return m, nil
			}
		}
	}
	return Node{}, fmt.Errorf("no %s leader", product)
}

// planCluster makes s the cluster opts asks for: its nodes, their ports
// checked free, the products' standard ports on each node's address (the
// Postgres on 127.0.0.1 takes a free port, leaving 5432 to a single-node
// stack).
func (s *Stack) planCluster(opts Options) error {
	clients := opts.Clients
	if clients == 0 {
		clients = 2
	}
	if clients < 2 {
		return fmt.Errorf("--clients %d: a cluster needs at least 2 client nodes", clients)
	}
	net := opts.ClusterNet
	if net == "" {
		net = DefaultClusterNet
	}
	nodes, err := ClusterNodes(net, 3, clients)
	if err != nil {
		return err
	}
	spec := &ClusterSpec{Servers: 3, Clients: clients, Nodes: nodes, Net: net}
	if err := checkClusterPortsFree(spec); err != nil {
		return err
	}
	pg := s.Ports.Postgres
	if opts.Ports == nil {
		free, err := FreePorts()
		if err != nil {
			return err
		}
		pg = free.Postgres
	}
	s.Ports = StandardPorts()
	s.Ports.Postgres = pg
	if opts.Secure {
		// The scripts' production mode: Consul's HTTPS on 8501, plain HTTP off.
		s.Ports.ConsulHTTP = 8501
	}
	s.state.Cluster = spec
	return nil
}

// resetClusterDirs removes what a previous cluster left (every start is a
// fresh cluster, as it is a fresh single node), its task mounts first.
func (s *Stack) resetClusterDirs() error {
	if os.Geteuid() == 0 {
		if err := unmountUnder(s.path("nodes")); err != nil {
			return err
		}
	}
	for _, d := range []string{"nodes", "cluster-extra", "provision"} {
		if err := os.RemoveAll(s.path(d)); err != nil {
			return err
		}
	}
	return nil
}

// shape names what a stack is, for the restart message.
func (s *Stack) shape() string {
	if c := s.state.Cluster; c != nil {
		return fmt.Sprintf("a cluster of %d servers and %d clients on %s.0/24", c.Servers, c.Clients, c.network())
	}
	return "a single node"
}

func shapeOf(o Options) string {
	if o.Cluster {
		c := o.Clients
		if c == 0 {
			c = 2
		}
		net := o.ClusterNet
		if net == "" {
			net = DefaultClusterNet
		}
		return fmt.Sprintf("a cluster of %d servers and %d clients on %s.0/24", 3, c, net)
	}
	return "a single node"
}

var standardPort = map[string]func(Ports) int{
	Consul: func(p Ports) int { return p.ConsulHTTP },
	Nomad:  func(p Ports) int { return p.NomadHTTP },
	Vault:  func(p Ports) int { return p.VaultAPI },
}

// clusterComponents are the cluster's agents as components of the table's
// shape, in start order (clusterProcs). The first renders every node;
// each Raft group starts together; the first Vault initialises the
// cluster's Vault and each Vault is unsealed; the last Nomad server waits
// for the keyring, the last client for the whole cluster.
func (s *Stack) clusterComponents() []component {
	procs := s.clusterProcs()
	var cs []component
	for i, p := range procs {
		p := p
		c := component{
			name: p.name(), bin: p.product, port: standardPort[p.product], host: p.node.Address,
			markerPath: s.procConfigDir(p), logFile: s.procLog(p),
			group: p.product + " servers", starting: "starting",
			start: func(s *Stack, ctx context.Context) error { return s.startProc(p) },
			role:  func(s *Stack, ctx context.Context) (string, error) { return s.procStatus(ctx, p) },
			// SIGINT: servers leave no Raft group (Consul's
			// skip_leave_on_interrupt, Nomad's leave_on_interrupt off): the
			// whole cluster goes, and servers leaving one after another
			// would wait on a lost quorum at the end.
			stop: func(s *Stack) error {
				return stopProcessWith(s.state.PIDs[p.name()], s.procConfigDir(p), 15*time.Second, syscall.SIGINT)
			},
		}
		if !p.node.Server {
			c.group = p.product + " clients"
		}
		if i == 0 {
			c.start = func(s *Stack, ctx context.Context) error {
				if err := s.renderCluster(); err != nil {
					return err
				}
				return s.startProc(p)
			}
		}
		switch {
		case p.product == Consul:
			c.ready = func(s *Stack, ctx context.Context) error { return s.procConsulLeader(ctx, p.node) }
		case p.product == Vault:
			c.group = "vault (raft)"
			c.ready = func(s *Stack, ctx context.Context) error { return s.unsealNode(ctx, p.node) }
			if procs[i-1].product != Vault {
				c.beforeReady = func(s *Stack, ctx context.Context) error { return s.clusterVaultInit(ctx) }
				c.afterReady = func(s *Stack, ctx context.Context) error { return s.wait(ctx, Vault, s.vaultReady) }
			}
			if procs[i+1].product != Vault {
				// The Nomad agents start next, with their Consul tokens.
				c.afterReady = then(c.afterReady, secureOnly((*Stack).secureVaultAndConsul))
			}
		case p.node.Server:
			c.ready = func(s *Stack, ctx context.Context) error { return s.procNomadLeader(ctx, p.node) }
			if !procs[i+1].node.Server {
				c.afterReady = then(func(s *Stack, ctx context.Context) error { return s.wait(ctx, "nomad keyring", s.nomadServerReady) },
					secureOnly((*Stack).secureNomad))
			}
		default:
			c.starting = "starting (raw_exec)"
			c.ready = func(s *Stack, ctx context.Context) error { return s.nomadNodeReady(ctx, p.node) }
			root := s.nodeRoot(p.node)
			// Nomad leaves its tasks running when the agent stops, by
			// design; the dev stack owns them, so they go too.
			c.afterStop = func(s *Stack) error {
				if err := stopAll(processesUnder(root)); err != nil {
					return fmt.Errorf("%s tasks: %w", p.node.Name, err)
				}
				if os.Geteuid() == 0 {
					if err := unmountUnder(root); err != nil {
						return fmt.Errorf("%s task mounts: %w", p.node.Name, err)
					}
				}
				return nil
			}
			if i == len(procs)-1 {
				c.afterReady = func(s *Stack, ctx context.Context) error { return s.wait(ctx, "cluster", s.clusterReady) }
			}
		}
		cs = append(cs, c)
		if p.product == Vault && procs[i+1].product != Vault {
			cs = append(cs, s.vaultLBComponent())
		}
	}
	return cs
}

const vaultLB = "vault-lb"

// then runs a step after another (either may be nil).
func then(a, b func(*Stack, context.Context) error) func(*Stack, context.Context) error {
	return func(s *Stack, ctx context.Context) error {
		for _, f := range []func(*Stack, context.Context) error{a, b} {
			if f == nil {
				continue
			}
			if err := f(s, ctx); err != nil {
				return err
			}
		}
		return nil
	}
}

// vaultLBConfig is the cluster's load balancers, one HAProxy: TCP passed
// through to every Vault node that answers its health check as active or
// standby (standbys forward to the active node), as production's internal
// load balancer does; and HTTP to every client's ingress that answers its
// health endpoint, as production's ALB and its target group do (with a
// faster check: a dev cluster's failures are seconds apart).
//
// vaultCheck is added to each Vault server's health check (vaultLBCheckTLS).
func (s *Stack) vaultLBConfig() string { return clusterLBConfig(s.state.Cluster, s.vaultLBCheckTLS()) }

func clusterLBConfig(c *ClusterSpec, vaultCheck string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# Rendered by hstack dev up --cluster: the Vault nodes, and the clients' ingress, each behind one address.
global
  maxconn 2000
defaults
  mode tcp
  timeout connect 2s
  timeout client 5m
  timeout server 5m
  retries 2
  option redispatch
frontend vault
  bind %s:8200
  default_backend vault
backend vault
  balance first
  option httpchk GET /v1/sys/health?standbyok=true
  http-check expect status 200
  default-server inter 500ms fall 1 rise 1 on-marked-down shutdown-sessions
`, c.VaultLBAddress())
	for _, n := range c.Nodes {
		if n.Server {
			fmt.Fprintf(&b, "  server %s %s:8200 check%s\n", n.Name, n.Address, vaultCheck)
		}
	}
	// A connection a dead ingress refuses is tried again on another
	// (the defaults' retries and redispatch); an ALB answers 502 instead
	// until its health check fails. On loopback a dead node refuses at
	// once, where in a VPC the connection would time out.
	fmt.Fprintf(&b, `frontend ingress
  mode http
  timeout client 30s
  bind %s:%d
  default_backend ingress
backend ingress
  mode http
  balance roundrobin
  timeout server 30s
  option httpchk GET %s
  http-check expect status 200
  default-server inter 500ms fall 2 rise 2
`, c.VaultLBAddress(), ClusterIngressPort, ingressHealthPath)
	for _, n := range c.Nodes {
		if n.Client {
			fmt.Fprintf(&b, "  server %s %s:%d check\n", n.Name, n.Address, ClusterIngressPort)
		}
	}
	return b.String()
}

// ingressHealthPath is the ingress's own health endpoint (pkg/render's
// HealthPath: HAProxy answers it itself).
const ingressHealthPath = "/haproxy-health"

// vaultLBCheckTLS is what a secure cluster's health check adds: TLS to the
// node, verified with the stack's CA, so a node is healthy only while it
// serves the cluster's certificate (verify none would pass any listener);
// the traffic itself stays end-to-end TLS (TCP passthrough), so the
// balancer holds no key.
func (s *Stack) vaultLBCheckTLS() string {
	if !s.state.Secure {
		return ""
	}
	return fmt.Sprintf(" check-ssl verify required ca-file %s check-sni %s", s.CAFile(), vaultLBServerName)
}

func (s *Stack) vaultLBComponent() component {
	cfg := s.path("cluster-extra", "vault-lb.cfg")
	return component{
		name: vaultLB, port: func(Ports) int { return 8200 }, host: s.state.Cluster.VaultLBAddress(),
		markerPath: cfg, starting: "starting (HAProxy in front of the Vault nodes)",
		start: func(s *Stack, ctx context.Context) error {
			bin, err := exec.LookPath("haproxy")
			if err != nil {
				if _, serr := os.Stat("/usr/sbin/haproxy"); serr != nil {
					return fmt.Errorf("the cluster's Vault load balancer needs haproxy (apt-get install haproxy): %w", err)
				}
				bin = "/usr/sbin/haproxy"
			}
			if err := os.WriteFile(cfg, []byte(s.vaultLBConfig()), 0o600); err != nil {
				return err
			}
			pid, err := startDaemon(s.Dir, s.logPath(vaultLB), nil, bin, "-W", "-db", "-f", cfg)
			if err != nil {
				return err
			}
			s.state.PIDs[vaultLB] = pid
			return s.saveState()
		},
		ready: vaultLBReady,
		// dev status names the second front door it holds.
		role: func(s *Stack, ctx context.Context) (string, error) {
			if err := vaultLBReady(s, ctx); err != nil {
				return "", err
			}
			return "Vault :8200; the clients' ingress at " + s.state.Cluster.IngressLBURL(), nil
		},
		stopGrace: 5 * time.Second,
	}
}

func vaultLBReady(s *Stack, ctx context.Context) error {
	c, err := s.nodeVault(Node{Name: vaultLB, Address: s.state.Cluster.VaultLBAddress()})
	if err != nil {
		return err
	}
	return vaultServing(ctx, c, "vault through the load balancer")
}
