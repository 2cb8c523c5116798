package devstack

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// Component names, in start order.
const (
	Postgres = "postgres"
	Consul   = "consul"
	Vault    = "vault"
	Nomad    = "nomad" // the server agent
	// NomadClient is the client agent that runs the tasks.
	NomadClient = "nomad-client"
)

// component is everything Up, Status, Running and Down need to know about
// one process of the stack, so a component is described once, here, and
// not in a switch per operation.
type component struct {
	name string
	// bin is the pinned binary (tools.Find) a daemon runs; "" for
	// PostgreSQL, which pg_ctl starts.
	bin string
	// port is its API port, for the progress line and `dev status`.
	port func(Ports) int
	// starting is the progress line's verb phrase; a daemon's config
	// (config, written to <name>.hcl) is started with args(<name>.hcl).
	starting string
	config   func(*Stack) *hclwrite.File
	args     func(configPath string) []string
	// start replaces the daemon start (PostgreSQL). beforeReady runs once
	// the process is up but before it can be healthy (Vault's unseal).
	start       func(*Stack, context.Context) error
	beforeReady func(*Stack, context.Context) error
	// ready is the health check Up waits for and `dev status` reports.
	ready func(*Stack, context.Context) error
	// afterReady wires what needs it healthy (ACL bootstrap, Vault's own
	// Postgres user).
	afterReady func(*Stack, context.Context) error
	// stopGrace is how long it has between SIGTERM and SIGKILL; stop
	// replaces the signals (pg_ctl), afterStop cleans up what it leaves.
	stopGrace time.Duration
	stop      func(*Stack) error
	afterStop func(*Stack) error

	// What a cluster's agents add (cluster_up.go). group: consecutive
	// components of one group start together, then each is waited for
	// (a Raft group elects a leader only once bootstrap_expect are up).
	// host is the node's address ("" = 127.0.0.1), markerPath and logFile
	// replace <name>.hcl and logs/<name>.log, role says a server's part in
	// its Raft group for `dev status` (and is its health check there).
	group      string
	host       string
	markerPath string
	logFile    string
	role       func(*Stack, context.Context) (string, error)
}

// stackComponents are this stack's processes in start order: the single
// node's table, or a cluster's Postgres (the table's) and every agent of
// every node.
func (s *Stack) stackComponents() []component {
	if s.state.Cluster == nil {
		return components
	}
	return append([]component{components[0]}, s.clusterComponents()...)
}

func (s *Stack) component(name string) (component, bool) {
	for _, c := range s.stackComponents() {
		if c.name == name {
			return c, true
		}
	}
	return component{}, false
}

// components in start order; Down walks them backwards. It is set in init
// because the health checks' error messages name a component's log, which
// the table itself says.
var components []component

func init() {
	components = []component{
		{
			name: Postgres, port: func(p Ports) int { return p.Postgres }, starting: "initialising and starting",
			start: (*Stack).startPostgres, ready: (*Stack).pgReady,
			afterReady: func(s *Stack, ctx context.Context) error {
				if err := s.resetVaultAdmin(ctx); err != nil {
					return fmt.Errorf("postgres: %w", err)
				}
				return nil
			},
			stop: (*Stack).stopPostgres,
		},
		{
			name: Consul, bin: Consul, port: func(p Ports) int { return p.ConsulHTTP }, starting: "starting dev agent",
			config: (*Stack).consulConfig, args: func(cfg string) []string { return []string{"agent", "-dev", "-config-file", cfg} },
			ready: (*Stack).consulReady, stopGrace: 10 * time.Second,
		},
		{
			name: Vault, bin: Vault, port: func(p Ports) int { return p.VaultAPI }, starting: "starting",
			config: (*Stack).vaultConfig, args: func(cfg string) []string { return []string{"server", "-config", cfg} },
			beforeReady: func(s *Stack, ctx context.Context) error {
				if err := s.wait(ctx, Vault, s.vaultListening); err != nil {
					return err
				}
				return s.vaultInit(ctx)
			},
			ready:      (*Stack).vaultReady,
			afterReady: secureOnly((*Stack).secureVaultAndConsul),
			stopGrace:  10 * time.Second,
		},
		{
			name: Nomad, bin: Nomad, port: func(p Ports) int { return p.NomadHTTP }, starting: "starting server",
			config: (*Stack).nomadServerConfig, args: func(cfg string) []string { return []string{"agent", "-config", cfg} },
			ready:      (*Stack).nomadServerReady,
			afterReady: secureOnly((*Stack).secureNomad),
			stopGrace:  15 * time.Second,
			afterStop: func(s *Stack) error {
				if os.Geteuid() != 0 {
					return nil
				}
				if err := unmountUnder(s.path(NomadClient)); err != nil {
					return fmt.Errorf("nomad task mounts: %w", err)
				}
				return nil
			},
		},
		{
			name: NomadClient, bin: Nomad, port: func(p Ports) int { return p.NomadClient }, starting: "starting client (raw_exec)",
			config: (*Stack).nomadClientConfig, args: func(cfg string) []string { return []string{"agent", "-config", cfg} },
			ready:     (*Stack).nomadReady,
			stopGrace: 15 * time.Second,
			// Nomad leaves its tasks (and their executors) running when the
			// agent stops, by design; the dev stack owns them, so they go too.
			afterStop: func(s *Stack) error {
				if err := stopAll(processesUnder(s.path(NomadClient))); err != nil {
					return fmt.Errorf("nomad tasks: %w", err)
				}
				return nil
			},
		},
	}
}

// secureOnly is a step only a secure stack (ACLs, TLS) takes.
func secureOnly(step func(*Stack, context.Context) error) func(*Stack, context.Context) error {
	return func(s *Stack, ctx context.Context) error {
		if !s.state.Secure {
			return nil
		}
		return step(s, ctx)
	}
}

// daemons are the components that run as a pinned binary with a config.
func daemons() []component {
	var ds []component
	for _, c := range components {
		if c.bin != "" {
			ds = append(ds, c)
		}
	}
	return ds
}

// label is how errors name the component ("nomad client").
func (c component) label() string { return strings.ReplaceAll(c.name, "-", " ") }

// configPath is a daemon's config file in the stack directory.
func (s *Stack) configPath(c component) string { return s.path(c.name + ".hcl") }

// marker identifies a component's process in /proc/<pid>/cmdline, so a
// recycled pid is never taken for ours.
func (s *Stack) marker(name string) string {
	if c, ok := s.component(name); ok && c.markerPath != "" {
		return c.markerPath
	}
	if name == Postgres {
		return filepath.Join(s.pgDir(), "data")
	}
	return s.path(name + ".hcl")
}

// pid is the component's recorded process; PostgreSQL's is its postmaster's.
func (s *Stack) pid(c component) int {
	if c.name == Postgres {
		return s.pgPID()
	}
	return s.state.PIDs[c.name]
}

// address is the component's API address as `dev status` shows it.
func (s *Stack) address(c component) string {
	hp := loopback(c.port(s.Ports))
	if c.host != "" {
		hp = fmt.Sprintf("%s:%d", c.host, c.port(s.Ports))
	}
	if c.name == Postgres {
		return hp
	}
	return s.scheme() + "://" + hp
}

func (s *Stack) logPath(name string) string {
	if c, ok := s.component(name); ok {
		if c.logFile != "" {
			return c.logFile
		}
		return s.path("logs", name+".log")
	}
	return s.path("logs")
}

// startComponents starts cs in order, each group at once, and waits until
// each is healthy and wired.
func (s *Stack) startComponents(ctx context.Context, cs []component) error {
	for i := 0; i < len(cs); {
		j := i + 1
		for cs[i].group != "" && j < len(cs) && cs[j].group == cs[i].group {
			j++
		}
		if cs[i].group != "" {
			var hosts []string
			for _, c := range cs[i:j] {
				hosts = append(hosts, c.host)
			}
			s.logf("%s: %s on %s", cs[i].group, cs[i].starting, strings.Join(hosts, ", "))
		}
		for _, c := range cs[i:j] {
			if err := s.launchComponent(ctx, c); err != nil {
				return err
			}
		}
		for _, c := range cs[i:j] {
			if err := s.settleComponent(ctx, c); err != nil {
				return err
			}
		}
		i = j
	}
	return nil
}

// launchComponent starts c's process.
func (s *Stack) launchComponent(ctx context.Context, c component) error {
	if c.group == "" {
		s.logf("%s: %s on %s", strings.Split(c.name, "-")[0], c.starting, loopback(c.port(s.Ports)))
	}
	if c.start != nil {
		if err := c.start(s, ctx); err != nil {
			return err
		}
	} else {
		if err := writeHCL(s.configPath(c), c.config(s)); err != nil {
			return err
		}
		if err := s.startDaemon(c, c.args(s.configPath(c))...); err != nil {
			return err
		}
	}
	return nil
}

// settleComponent waits until c is healthy, and wires it.
func (s *Stack) settleComponent(ctx context.Context, c component) error {
	if c.beforeReady != nil {
		if err := c.beforeReady(s, ctx); err != nil {
			return err
		}
	}
	if err := s.wait(ctx, c.name, func(ctx context.Context) error { return c.ready(s, ctx) }); err != nil {
		return err
	}
	if c.afterReady != nil {
		return c.afterReady(s, ctx)
	}
	return nil
}

// stopComponent stops c and cleans up after it.
func (s *Stack) stopComponent(c component) []error {
	var errs []error
	if c.stop != nil {
		if err := c.stop(s); err != nil {
			errs = append(errs, err)
		}
	} else if err := stopProcess(s.pid(c), s.marker(c.name), c.stopGrace); err != nil {
		errs = append(errs, fmt.Errorf("%s: %w", c.label(), err))
	}
	if c.afterStop != nil {
		if err := c.afterStop(s); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

func (s *Stack) startPostgres(context.Context) error {
	if err := s.pg().Init(); err != nil {
		return err
	}
	if err := s.pg().Start(); err != nil {
		return err
	}
	s.state.PIDs[Postgres] = s.pgPID()
	return s.saveState()
}

// stopPostgres stops the server and removes a private data directory.
func (s *Stack) stopPostgres() error {
	if s.pgBinDir == "" {
		return nil
	}
	if err := s.pg().Stop(); err != nil {
		return err
	}
	return s.removePGData()
}
