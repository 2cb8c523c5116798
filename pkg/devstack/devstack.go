// Package devstack runs a production-shaped HashiCorp stack on loopback: a
// Consul agent, a Vault server, a Nomad server and a Nomad client agent
// (raw_exec), and a private PostgreSQL, wired the way production is (Nomad services in
// Consul, Vault trusting Nomad workload identities, Vault's database secrets
// engine on the Postgres). `hstack dev` and the integration tests use it.
package devstack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-cleanhttp"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/failover"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// Options configure Up.
type Options struct {
	// Dir holds configs, data, logs, the state file and dev.env.
	Dir string
	// Ports to use; nil means the products' standard ports.
	Ports *Ports
	// Out receives one progress line per step; nil discards them.
	Out io.Writer
	// DatabaseRoles are the Vault database roles to create; a job may read
	// the role named after it. Default: pingapp.
	DatabaseRoles []string
	// Timeout bounds the wait for each component to become healthy.
	Timeout time.Duration
	// Secure turns on what production runs with: ACLs (default deny) in
	// all three products, bootstrapped by pkg/bootstrap; TLS everywhere
	// from a throwaway CA; Consul gossip encryption; Nomad RPC TLS; a
	// Vault file audit device.
	Secure bool
	// VaultRaft runs Vault on integrated storage (Raft), as production
	// does, instead of in memory: Vault's snapshot API needs it.
	VaultRaft bool
	// Cluster runs a multi-node cluster on loopback instead of the single
	// node: 3 server nodes (Consul, Nomad and Vault on Raft) and Clients
	// client nodes (default 2), each on its own 127.0.0.x with the
	// products' standard ports, configured by scripts/provision.
	Cluster bool
	Clients int
	// ClusterNet is the loopback /24 of the cluster's nodes ("127.0.1":
	// servers on 127.0.1.11-13); "" is DefaultClusterNet. Two clusters on
	// different networks run side by side.
	ClusterNet string
}

// state is what a later `dev status` or `dev down` needs. It holds secrets,
// so the file is 0600.
type state struct {
	Ports          Ports             `json:"ports"`
	PIDs           map[string]int    `json:"pids"`
	Bins           map[string]string `json:"bins"`
	PGBinDir       string            `json:"pg_bin_dir"`
	Roles          []string          `json:"roles"`
	VaultToken     string            `json:"vault_root_token,omitempty"`
	VaultUnsealKey string            `json:"vault_unseal_key,omitempty"`
	PGPassword     string            `json:"postgres_password,omitempty"`
	Secure         bool              `json:"secure,omitempty"`
	// GossipKey is Consul's gossip encryption key (secure only).
	GossipKey string `json:"consul_gossip_key,omitempty"`
	// NomadGossipKey encrypts the Nomad servers' serf gossip (secure only).
	NomadGossipKey string `json:"nomad_gossip_key,omitempty"`
	// NomadToken and ConsulToken are what the stack and dev.env use in
	// secure mode: the operator (Nomad) and hstack (Consul) tokens, not
	// the management tokens, which stay in Vault KV.
	NomadToken  string `json:"nomad_token,omitempty"`
	ConsulToken string `json:"consul_token,omitempty"`
	// PGDir is PostgreSQL's private data directory when we run as root
	// (see pgDir); empty: the stack's postgres/.
	PGDir string `json:"postgres_dir,omitempty"`
	// Cluster is set for a multi-node stack; its agents' PIDs are keyed
	// <node>/<product>.
	Cluster *ClusterSpec `json:"cluster,omitempty"`
	// VaultUnsealKeys are a cluster's Shamir keys (dev only).
	VaultUnsealKeys []string  `json:"vault_unseal_keys,omitempty"`
	StartedAt       time.Time `json:"started_at"`
}

// Stack is a dev stack on disk, running or not.
type Stack struct {
	Dir   string
	Ports Ports

	state state
	out   io.Writer

	// Clients are built once: a client per health probe would open a new
	// connection pool each time and trip Nomad's per-client connection
	// limit (HTTP 429).
	clientsMu sync.Mutex
	nomad     *nomadapi.Client
	consul    *consulapi.Client
	vault     *vaultapi.Client
	roles     []string
	pgBinDir  string
	// vaultAdminPassword is handed to Vault once, then rotated by it.
	vaultAdminPassword string
	timeout            time.Duration
	// agentConsulTokens are the Nomad agents' Consul tokens, by role
	// ("nomad-server", "nomad-client"), between bootstrap and the agents'
	// configs (secure only).
	agentConsulTokens map[string]string
	vaultRaft         bool
	// nodeClients talk to one node of a cluster each.
	nodeClients struct {
		consul map[string]*consulapi.Client
		nomad  map[string]*nomadapi.Client
		vault  map[string]*vaultapi.Client
	}
}

const stateFile = "state.json"

// EnvFile is the name of the file, in the stack directory, of shell
// `export` lines pointing the products' CLIs at the stack.
const EnvFile = "dev.env"

// Open loads the stack recorded in dir. It returns an error wrapping
// os.ErrNotExist when no stack was ever started there.
func Open(dir string) (*Stack, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(filepath.Join(abs, stateFile)) // #nosec G304 -- the state file of the stack directory the developer named
	if err != nil {
		return nil, fmt.Errorf("no dev stack in %s: %w", abs, err)
	}
	s := &Stack{Dir: abs, out: io.Discard}
	if err := json.Unmarshal(b, &s.state); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(abs, stateFile), err)
	}
	s.Ports = s.state.Ports
	s.roles = s.state.Roles
	s.pgBinDir = s.state.PGBinDir
	return s, nil
}

func (s *Stack) saveState() error {
	s.state.Ports = s.Ports
	b, err := json.MarshalIndent(s.state, "", "  ")
	if err != nil {
		return err
	}
	tmp := s.path(stateFile + ".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, s.path(stateFile))
}

func (s *Stack) logf(format string, args ...any) {
	fmt.Fprintf(s.out, format+"\n", args...)
}

// Running reports, per component, whether its recorded process is alive.
func (s *Stack) Running() map[string]bool {
	r := map[string]bool{}
	for _, c := range s.stackComponents() {
		r[c.name] = processAlive(s.pid(c), s.marker(c.name))
	}
	return r
}

// Up starts the stack in opts.Dir and waits until every component is healthy
// and wired. On a running stack it only re-checks health. If a step fails,
// whatever it started is stopped again.
func Up(ctx context.Context, opts Options) (*Stack, error) {
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}

	if prev, err := Open(dir); err == nil {
		prev.out, prev.timeout = out, timeout
		running := prev.Running()
		all, any := true, false
		for _, r := range running {
			all = all && r
			any = any || r
		}
		if all && (prev.state.Secure != opts.Secure || prev.shape() != shapeOf(opts)) {
			prev.logf("dev stack in %s is running as %s (secure=%v); restarting it as %s (secure=%v)", dir, prev.shape(), prev.state.Secure, shapeOf(opts), opts.Secure)
			if err := prev.Down(ctx); err != nil {
				return nil, err
			}
			all, any = false, false
		}
		if all {
			prev.logf("dev stack in %s is already running; checking health", dir)
			if err := prev.waitHealthy(ctx); err != nil {
				return nil, err
			}
			return prev, prev.writeEnv()
		}
		if any {
			prev.logf("dev stack in %s is partly running (%s); restarting it", dir, describe(running))
			if err := prev.Down(ctx); err != nil {
				return nil, err
			}
		}
	}

	s := &Stack{Dir: dir, out: out, timeout: timeout, vaultRaft: opts.VaultRaft}
	s.state.Secure = opts.Secure
	if opts.Ports != nil {
		s.Ports = *opts.Ports
	} else {
		s.Ports = StandardPorts()
	}
	s.roles = opts.DatabaseRoles
	if len(s.roles) == 0 {
		s.roles = []string{"pingapp"}
	}
	if opts.Cluster {
		if err := s.planCluster(opts); err != nil {
			return nil, err
		}
	} else if err := s.Ports.checkFree(); err != nil {
		// Ports first: a refusal must leave the directory untouched.
		return nil, err
	}
	if err := s.prepare(); err != nil {
		return nil, err
	}
	if err := s.start(ctx); err != nil {
		s.logf("start failed; stopping what was started")
		if derr := s.Down(context.Background()); derr != nil {
			s.logf("stopping: %v", derr)
		}
		return nil, err
	}
	return s, nil
}

func describe(running map[string]bool) string {
	var parts []string
	names := make([]string, 0, len(running))
	for c := range running {
		names = append(names, c)
	}
	sort.Strings(names)
	for _, c := range names {
		st := "stopped"
		if running[c] {
			st = "running"
		}
		parts = append(parts, c+" "+st)
	}
	return strings.Join(parts, ", ")
}

// prepare finds the binaries, lays out the directory and resets the
// per-run data: every start is a fresh cluster, but Postgres data is kept
// when its password is known.
func (s *Stack) prepare() error {
	s.state.Bins = map[string]string{}
	for _, c := range daemons() {
		if _, ok := s.state.Bins[c.bin]; ok {
			continue
		}
		p, err := tools.Find(c.bin)
		if err != nil {
			return err
		}
		s.state.Bins[c.bin] = p
	}
	pg, err := tools.FindPostgres()
	if err != nil {
		return err
	}
	s.pgBinDir, s.state.PGBinDir = pg, pg
	s.state.Roles = s.roles

	// #nosec G301 -- Postgres, run as its own user when we are root, writes its log here.
	if err := os.MkdirAll(s.path("logs"), 0o755); err != nil {
		return err
	}
	// Postgres runs as another user when we are root and must reach its
	// data directory through this one.
	if err := os.Chmod(s.Dir, 0o755); err != nil { // #nosec G302 -- as said above; what is secret below it is 0600/0700
		return err
	}
	prev, err := Open(s.Dir)
	if err != nil {
		prev = nil
	}
	if err := s.carryPostgres(prev); err != nil {
		return err
	}
	if os.Geteuid() == 0 {
		// Left by a stack that died without `dev down`.
		if err := unmountUnder(s.path(NomadClient)); err != nil {
			return err
		}
	}
	if err := s.resetClusterDirs(); err != nil {
		return err
	}
	for _, c := range daemons() {
		if err := os.RemoveAll(s.path(c.name)); err != nil {
			return err
		}
	}
	if s.state.Cluster == nil {
		if err := s.makeSingleNodeDirs(); err != nil {
			return err
		}
	}
	s.state.PIDs = map[string]int{}
	s.state.VaultToken, s.state.VaultUnsealKey, s.state.VaultUnsealKeys = "", "", nil
	s.state.NomadToken, s.state.ConsulToken, s.state.GossipKey, s.state.NomadGossipKey = "", "", "", ""
	s.state.StartedAt = time.Now().UTC()
	if s.state.Secure {
		if err := s.makePKI(); err != nil {
			return fmt.Errorf("tls: %w", err)
		}
	} else if err := os.RemoveAll(s.path(tlsDir)); err != nil {
		return err
	}
	return s.saveState()
}

func (s *Stack) makeSingleNodeDirs() error {
	if err := os.MkdirAll(s.path(Vault, "raft"), 0o700); err != nil {
		return err
	}
	// The server's data holds the Raft log and the Variables keyring.
	if err := os.MkdirAll(s.path(Nomad, "data"), 0o700); err != nil {
		return err
	}
	// #nosec G301 -- tasks that run as another user reach their allocation
	// directories through the client's; Nomad sets the modes inside (secrets/ 0700).
	if err := os.MkdirAll(s.path(NomadClient, "data"), 0o755); err != nil {
		return err
	}
	return os.MkdirAll(s.path(Consul), 0o700)
}

func randomSecret() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

func (s *Stack) start(ctx context.Context) error {
	if err := s.startComponents(ctx, s.stackComponents()); err != nil {
		return err
	}
	s.logf("vault: trusting Nomad workload identities, database secrets engine for roles %s", strings.Join(s.roles, ", "))
	if err := s.wait(ctx, "vault wiring", s.vaultWire); err != nil {
		return err
	}
	if err := s.writeEnv(); err != nil {
		return err
	}
	s.logf("dev stack ready: source %s", s.path(EnvFile))
	return nil
}

func (s *Stack) startDaemon(c component, args ...string) error {
	dir := s.path(c.name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	pid, err := startDaemon(dir, s.logPath(c.name), nil, s.state.Bins[c.bin], args...)
	if err != nil {
		return err
	}
	s.state.PIDs[c.name] = pid
	return s.saveState()
}

// wait retries check until it succeeds, the component's process dies, or
// the timeout passes; the error then points at the component's log.
func (s *Stack) wait(ctx context.Context, component string, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var last error
	op := func() error {
		if pid, ok := s.state.PIDs[component]; ok && component != Postgres && !processAlive(pid, s.marker(component)) {
			how := exitStatus(pid)
			if how == "" {
				how = "state " + procState(pid)
			}
			return backoff.Permanent(fmt.Errorf("%s (pid %d) exited during start-up (%s)", component, pid, how))
		}
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		last = check(cctx)
		return last
	}
	b := backoff.WithContext(backoff.NewConstantBackOff(200*time.Millisecond), ctx)
	start := time.Now()
	if err := backoff.Retry(op, b); err != nil {
		if last != nil && !errors.Is(err, last) {
			err = fmt.Errorf("%w (last check: %v)", err, last)
		}
		return fmt.Errorf("%s not healthy: %w; see %s", component, err, s.logPath(component))
	}
	s.logf("%s: ready after %v", component, time.Since(start).Round(100*time.Millisecond))
	return nil
}

func (s *Stack) waitHealthy(ctx context.Context) error {
	for _, c := range s.stackComponents() {
		if err := s.wait(ctx, c.name, func(ctx context.Context) error { return c.ready(s, ctx) }); err != nil {
			return err
		}
	}
	return nil
}

// AllocDir is where the client keeps an allocation's files (task dirs,
// secrets, logs).
func (s *Stack) AllocDir(allocID string) string {
	return s.path(NomadClient, "data", "alloc", allocID)
}

// NomadAddr, ConsulAddr and VaultAddr are the products' API addresses.
// In secure mode they are https.
// A cluster's are its first server's.
func (s *Stack) NomadAddr() string  { return s.scheme() + "://" + s.apiHostPort(s.Ports.NomadHTTP) }
func (s *Stack) ConsulAddr() string { return s.apiHostPort(s.Ports.ConsulHTTP) }
func (s *Stack) VaultAddr() string  { return s.scheme() + "://" + s.apiHostPort(s.Ports.VaultAPI) }

func (s *Stack) apiHostPort(port int) string {
	if s.state.Cluster != nil {
		return fmt.Sprintf("%s:%d", s.state.Cluster.Nodes[0].Address, port)
	}
	return loopback(port)
}

func (s *Stack) scheme() string {
	if s.state.Secure {
		return "https"
	}
	return "http"
}

// Secure reports whether the stack runs with ACLs and TLS.
func (s *Stack) Secure() bool { return s.state.Secure }

// VaultToken is the stack's Vault root token. It is a secret: never log it.
func (s *Stack) VaultToken() string { return s.state.VaultToken }

// NomadClient, ConsulClient and VaultClient talk to this stack only: they
// ignore the NOMAD_*/CONSUL_*/VAULT_* environment a developer may have set.
func (s *Stack) NomadClient() (*nomadapi.Client, error) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if s.nomad != nil {
		return s.nomad, nil
	}
	cfg := nomadapi.DefaultConfig()
	cfg.Address = s.NomadAddr()
	cfg.SecretID = s.state.NomadToken
	cfg.Namespace = ""
	cfg.Region = ""
	cfg.TLSConfig = &nomadapi.TLSConfig{}
	if s.state.Secure {
		cfg.TLSConfig.CACert = s.CAFile()
	}
	if s.state.Cluster != nil {
		// nomadapi applies TLSConfig only to a client it builds itself.
		hc := cleanhttp.DefaultPooledClient()
		hc.Transport.(*http.Transport).TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		if err := nomadapi.ConfigureTLS(hc, cfg.TLSConfig); err != nil {
			return nil, err
		}
		cfg.HttpClient = failover.Wrap(hc, s.serverURLs(Nomad))
		cfg.HttpClient.Transport.(*failover.Transport).WritesIdempotent = true
	}
	c, err := nomadapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	s.nomad = c
	return c, nil
}

func (s *Stack) ConsulClient() (*consulapi.Client, error) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if s.consul != nil {
		return s.consul, nil
	}
	cfg := consulapi.DefaultConfig()
	cfg.Address = s.ConsulAddr()
	cfg.Scheme = "http"
	cfg.Token = s.state.ConsulToken
	cfg.TokenFile = ""
	cfg.TLSConfig = consulapi.TLSConfig{}
	if s.state.Secure {
		// Consul verifies client certificates (verify_incoming).
		cfg.Scheme = "https"
		cli := s.cliCert()
		cfg.TLSConfig = consulapi.TLSConfig{CAFile: s.CAFile(), CertFile: cli.Cert, KeyFile: cli.Key}
	}
	if s.state.Cluster != nil {
		// consulapi applies TLSConfig only to a client it builds itself.
		hc, err := consulapi.NewHttpClient(cleanhttp.DefaultPooledTransport(), cfg.TLSConfig)
		if err != nil {
			return nil, err
		}
		cfg.HttpClient = failover.Wrap(hc, s.serverURLs(Consul))
	}
	c, err := consulapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	s.consul = c
	return c, nil
}

func (s *Stack) rawVaultClient() (*vaultapi.Client, error) {
	s.clientsMu.Lock()
	defer s.clientsMu.Unlock()
	if s.vault == nil {
		c, err := s.newVaultClient()
		if err != nil {
			return nil, err
		}
		s.vault = c
	}
	// Clones share the connection pool; each caller gets its own token.
	c, err := s.vault.Clone()
	if err != nil {
		return nil, err
	}
	c.ClearToken()
	return c, nil
}

func (s *Stack) newVaultClient() (*vaultapi.Client, error) {
	cfg := vaultapi.DefaultConfig()
	if cfg.Error != nil {
		return nil, cfg.Error
	}
	cfg.Address = s.VaultAddr()
	// A secure stack's CA, whatever VAULT_CACERT a developer set.
	if err := cfg.ConfigureTLS(&vaultapi.TLSConfig{CACert: s.caFileIfSecure()}); err != nil {
		return nil, err
	}
	if s.state.Cluster != nil {
		failover.Wrap(cfg.HttpClient, s.serverURLs(Vault))
	}
	c, err := vaultapi.NewClient(cfg)
	if err != nil {
		return nil, err
	}
	c.ClearToken()
	c.ClearNamespace()
	return c, nil
}

// VaultClient is authenticated with the stack's root token.
func (s *Stack) VaultClient() (*vaultapi.Client, error) {
	c, err := s.rawVaultClient()
	if err != nil {
		return nil, err
	}
	c.SetToken(s.state.VaultToken)
	return c, nil
}

func (s *Stack) consulReady(ctx context.Context) error {
	c, err := s.ConsulClient()
	if err != nil {
		return err
	}
	return consulHasLeader(c)
}

// consulHasLeader: the agent c talks to knows a Raft leader.
func consulHasLeader(c *consulapi.Client) error {
	leader, err := c.Status().Leader()
	if err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no consul leader yet")
	}
	return nil
}

func (s *Stack) vaultListening(ctx context.Context) error {
	c, err := s.rawVaultClient()
	if err != nil {
		return err
	}
	_, err = c.Sys().InitStatusWithContext(ctx)
	return err
}

func (s *Stack) vaultReady(ctx context.Context) error {
	c, err := s.rawVaultClient()
	if err != nil {
		return err
	}
	return vaultServing(ctx, c, "vault")
}

// vaultServing is nil when the Vault c reaches is initialised and unsealed
// (what names it in the error).
func vaultServing(ctx context.Context, c *vaultapi.Client, what string) error {
	h, err := c.Sys().HealthWithContext(ctx)
	if err != nil {
		return err
	}
	if !h.Initialized || h.Sealed {
		return fmt.Errorf("%s: initialized=%v sealed=%v", what, h.Initialized, h.Sealed)
	}
	return nil
}

// nomadServerReady waits for a leader and for the keyring that signs
// workload and node identities: Nomad serves its JWKS only then.
func (s *Stack) nomadServerReady(ctx context.Context) error {
	c, err := s.NomadClient()
	if err != nil {
		return err
	}
	leader, err := c.Status().Leader()
	if err != nil {
		return err
	}
	if leader == "" {
		return errors.New("no leader yet")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.NomadAddr()+"/.well-known/jwks.json", nil)
	if err != nil {
		return err
	}
	// The JWKS is a public, unauthenticated document outside the /v1 API
	// that nomad/api wraps.
	resp, err := s.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil {
		return fmt.Errorf("jwks: %w", err)
	}
	if len(jwks.Keys) == 0 {
		return errors.New("keyring not initialised yet")
	}
	return nil
}

// nomadReady waits for the node to be ready with a healthy raw_exec driver
// and for Nomad's own services to be in Consul: jobs placed before that
// would fail for reasons unrelated to them.
func (s *Stack) nomadReady(ctx context.Context) error {
	c, err := s.NomadClient()
	if err != nil {
		return err
	}
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	nodes, _, err := c.Nodes().List(q)
	if err != nil {
		return err
	}
	if len(nodes) == 0 {
		return errors.New("no Nomad client node registered yet")
	}
	n := nodes[0]
	if n.Status != nomadapi.NodeStatusReady {
		return fmt.Errorf("node %s is %s", n.Name, n.Status)
	}
	if d, ok := n.Drivers["raw_exec"]; !ok || !d.Healthy {
		return errors.New("raw_exec driver not healthy yet")
	}
	cc, err := s.ConsulClient()
	if err != nil {
		return err
	}
	svcs, _, err := cc.Catalog().Service("nomad-client", "", (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	if len(svcs) == 0 {
		return errors.New("nomad-client not registered in Consul yet")
	}
	return nil
}

// EnvIngressAddr is the dev.env variable naming the cluster's front load
// balancer, in front of every client's ingress (production's ALB).
const EnvIngressAddr = "HSTACK_INGRESS_ADDR"

// Env returns the environment pointing the products' CLIs and hstack at the
// stack. It includes the Vault root token.
func (s *Stack) Env() [][2]string {
	env := [][2]string{
		{"NOMAD_ADDR", s.NomadAddr()},
		{"CONSUL_HTTP_ADDR", s.ConsulAddr()},
		{"VAULT_ADDR", s.VaultAddr()},
		{"VAULT_TOKEN", s.state.VaultToken},
		{"PGHOST", "127.0.0.1"},
		{"PGPORT", fmt.Sprint(s.Ports.Postgres)},
	}
	if s.state.Cluster != nil {
		env = append(env, [][2]string{
			{clients.EnvNomadAddrs, joinURLs(s.serverURLs(Nomad))},
			{clients.EnvConsulAddrs, joinURLs(s.serverURLs(Consul))},
			{clients.EnvVaultAddrs, joinURLs(s.serverURLs(Vault))},
			// The front load balancer in front of every client's ingress.
			{EnvIngressAddr, s.state.Cluster.IngressLBURL()},
		}...)
	}
	if s.state.Secure {
		env = append(env, s.secureEnv()...)
	}
	return env
}

// EnvScript is Env as POSIX shell export lines.
func (s *Stack) EnvScript() string {
	var b strings.Builder
	b.WriteString("# hstack dev stack: source this file or eval \"$(hstack dev env)\"\n")
	for _, kv := range s.Env() {
		fmt.Fprintf(&b, "export %s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return b.String()
}

func shellQuote(v string) string {
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

func (s *Stack) writeEnv() error {
	return os.WriteFile(s.path(EnvFile), []byte(s.EnvScript()), 0o600)
}

// ComponentStatus is one line of `hstack dev status`.
type ComponentStatus struct {
	Name    string `json:"name"`
	PID     int    `json:"pid,omitempty"`
	Running bool   `json:"running"`
	Healthy bool   `json:"healthy"`
	Address string `json:"address"`
	Detail  string `json:"detail,omitempty"`
	Log     string `json:"log"`
	// Role is a cluster agent's part: leader or follower (Consul, Nomad
	// servers), active or standby (Vault), client.
	Role string `json:"role,omitempty"`
}

// Status checks each component's process and health.
func (s *Stack) Status(ctx context.Context) []ComponentStatus {
	running := s.Running()
	var out []ComponentStatus
	for _, c := range s.stackComponents() {
		st := ComponentStatus{Name: c.name, Running: running[c.name], Address: s.address(c), Log: s.logPath(c.name)}
		if running[c.name] {
			st.PID = s.pid(c)
			cctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			var err error
			if c.role != nil {
				st.Role, err = c.role(s, cctx)
			} else {
				err = c.ready(s, cctx)
			}
			if err != nil {
				st.Detail = err.Error()
			} else {
				st.Healthy = true
			}
			cancel()
		} else {
			st.Detail = "not running"
		}
		out = append(out, st)
	}
	return out
}

// Down stops exactly what the stack started, Nomad's tasks included, in
// reverse start order, and removes dev.env. Logs stay, and so does
// Postgres data in the stack directory; a private one (as root) goes.
func (s *Stack) Down(ctx context.Context) error {
	var errs []error
	cs := s.stackComponents()
	for i := len(cs) - 1; i >= 0; i-- {
		errs = append(errs, s.stopComponent(cs[i])...)
	}
	if len(errs) == 0 {
		s.state.PIDs = map[string]int{}
		s.state.VaultToken, s.state.VaultUnsealKey, s.state.VaultUnsealKeys = "", "", nil
		s.state.NomadToken, s.state.ConsulToken = "", ""
		if err := s.saveState(); err != nil {
			errs = append(errs, err)
		}
		if err := os.Remove(s.path(EnvFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func stopAll(pids []int) error {
	sort.Ints(pids)
	var errs []error
	for _, pid := range pids {
		if err := stopProcess(pid, "", 5*time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Processes lists every live process that belongs to the stack: its
// components and anything running from the stack's directory.
func (s *Stack) Processes() []int {
	seen := map[int]bool{}
	var pids []int
	add := func(p int) {
		if p > 0 && !seen[p] {
			seen[p] = true
			pids = append(pids, p)
		}
	}
	running := s.Running()
	for _, c := range s.stackComponents() {
		if running[c.name] {
			add(s.pid(c))
		}
	}
	for _, p := range processesUnder(s.Dir) {
		add(p)
	}
	sort.Ints(pids)
	return pids
}
