package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"text/tabwriter"

	"github.com/dustin/go-humanize/english"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/devstack"
)

const defaultDevDir = ".hstack"

func devDirFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "dir",
		Usage:   "directory holding the dev stack's configs, data, logs and dev.env",
		Value:   defaultDevDir,
		EnvVars: []string{"HSTACK_DEV_DIR"},
	}
}

func devCommand() *cli.Command {
	return &cli.Command{
		Name:  "dev",
		Usage: "run a local development stack: Nomad, Consul, Vault and PostgreSQL on loopback",
		Subcommands: []*cli.Command{
			{
				Name:  "up",
				Usage: "start the stack (or check a running one) and wire it like production",
				Description: "Starts a Consul agent, a Vault server, a Nomad agent (server and client, raw_exec)\n" +
					"and a private PostgreSQL on the products' standard ports, then makes Nomad register\n" +
					"its services in Consul, Vault trust Nomad workload identities, and Vault's database\n" +
					"secrets engine serve the dev Postgres. Safe to run again.\n\n" +
					"--cluster runs 3 server nodes and --clients client nodes instead, each on its own\n" +
					"loopback address, from the configs scripts/provision renders for the images.\n" +
					"--secure (single node or cluster) runs as production does: TLS on every agent from\n" +
					"a throwaway CA, Consul and Nomad gossip encryption, ACLs default-deny bootstrapped\n" +
					"once (tokens in Vault KV), a Vault audit log; dev.env then holds the CA, the CLI's\n" +
					"client certificate and the operator tokens.",
				Flags: []cli.Flag{
					devDirFlag(),
					&cli.BoolFlag{Name: "free-ports", Usage: "use free ports instead of the standard ones (4646, 8500, 8200, 5432, ...)"},
					&cli.BoolFlag{Name: "secure", Usage: "run as production does: ACLs on (bootstrapped, tokens in Vault KV), TLS from a throwaway CA, Consul and Nomad gossip encryption, Vault audit log; with --cluster too"},
					&cli.BoolFlag{Name: "cluster", Usage: "run a production-shaped cluster instead: 3 server nodes (Consul, Nomad, Vault on Raft) on 127.0.0.11-13 and client nodes on 127.0.0.21.., configured by scripts/provision"},
					&cli.StringFlag{Name: "cluster-net", EnvVars: []string{"HSTACK_CLUSTER_NET"}, Value: devstack.DefaultClusterNet, Usage: "with --cluster: the loopback /24 of its nodes, as `NET` (127.0.1: servers on 127.0.1.11-13, clients on 127.0.1.21..); two clusters on different networks run side by side"},
					&cli.IntFlag{Name: "clients", Value: 2, Usage: "with --cluster: `N` client nodes (2 to 6), spread over zones zone-a, zone-b, zone-c"},
				},
				Action: devUp,
			},
			{
				Name:  "check",
				Usage: "check what dev up needs before anything is built or started (exit 1 naming each problem)",
				Description: "PostgreSQL's binaries, as root the postgres user and a directory for its data, the\n" +
					"stack directory, and the standard ports free (or --free-ports). make demo runs it\n" +
					"before building Nomad, Consul and Vault, so a missing piece is reported in seconds.",
				Flags: []cli.Flag{
					devDirFlag(),
					&cli.BoolFlag{Name: "free-ports", Usage: "dev up will run with --free-ports: do not check the standard ports"},
				},
				Action: devCheck,
			},
			{Name: "down", Usage: "stop every process the stack started, Nomad's tasks included", Flags: []cli.Flag{devDirFlag()}, Action: devDown},
			{Name: "status", Usage: "show each component's process and health (exit 1 unless all are healthy)", Flags: []cli.Flag{devDirFlag()}, Action: devStatus},
			{Name: "env", Usage: "print shell export lines for the stack: eval \"$(hstack dev env)\"", Flags: []cli.Flag{devDirFlag()}, Action: devEnv},
			devCertsCommand(),
		},
	}
}

func devUp(c *cli.Context) error {
	out := OutputFromContext(c)
	opts := devstack.Options{Dir: c.String("dir"), Out: out.Stderr, Secure: c.Bool("secure"), Cluster: c.Bool("cluster")}
	if c.IsSet("clients") {
		if !opts.Cluster {
			return &ExitError{Code: ExitUsage, Err: errors.New("--clients needs --cluster")}
		}
		opts.Clients = c.Int("clients")
	}
	if c.IsSet("cluster-net") {
		if !opts.Cluster {
			return &ExitError{Code: ExitUsage, Err: errors.New("--cluster-net needs --cluster")}
		}
		if err := devstack.CheckClusterNet(c.String("cluster-net")); err != nil {
			return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--cluster-net: %w", err)}
		}
		opts.ClusterNet = c.String("cluster-net")
	}
	if opts.Cluster && c.Bool("free-ports") {
		return &ExitError{Code: ExitUsage, Err: errors.New("--free-ports does not apply to --cluster: its nodes have addresses of their own (127.0.0.11..) and take the standard ports there")}
	}
	if c.Bool("free-ports") {
		p, err := devstack.FreePorts()
		if err != nil {
			return err
		}
		opts.Ports = &p
	}
	s, err := devstack.Up(c.Context, opts)
	if err != nil {
		return err
	}
	return printStatus(out, s, s.Status(c.Context))
}

func devDown(c *cli.Context) error {
	out := OutputFromContext(c)
	s, err := devstack.Open(c.String("dir"))
	if errors.Is(err, os.ErrNotExist) {
		abs, _ := filepath.Abs(c.String("dir"))
		return out.Emit(map[string]any{"dir": abs, "stopped": false}, "no dev stack in %s; nothing to stop", abs)
	}
	if err != nil {
		return err
	}
	if err := s.Down(c.Context); err != nil {
		return err
	}
	if left := s.Processes(); len(left) > 0 {
		return fmt.Errorf("processes still running after stop: %v", left)
	}
	return out.Emit(map[string]any{"dir": s.Dir, "stopped": true}, "dev stack in %s stopped (logs kept in %s)", s.Dir, filepath.Join(s.Dir, "logs"))
}

func devStatus(c *cli.Context) error {
	out := OutputFromContext(c)
	s, err := devstack.Open(c.String("dir"))
	if err != nil {
		return err
	}
	st := s.Status(c.Context)
	if err := printStatus(out, s, st); err != nil {
		return err
	}
	var down []string
	for _, cs := range st {
		if !cs.Running {
			down = append(down, cs.Name)
		}
	}
	if len(down) == len(st) {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("the dev stack in %s is not running: start it with `hstack dev up`", s.Dir)}
	}
	for _, cs := range st {
		if !cs.Healthy {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s is not healthy: %s", cs.Name, cs.Detail)}
		}
	}
	return nil
}

func printStatus(out *Output, s *devstack.Stack, st []devstack.ComponentStatus) error {
	if out.JSON {
		for _, cs := range st {
			if err := out.Emit(cs, ""); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "COMPONENT\tSTATE\tPID\tADDRESS\tLOG")
	for _, cs := range st {
		state := out.Green("healthy")
		if cs.Role != "" {
			state = out.Green("healthy, " + cs.Role)
		}
		switch {
		case !cs.Running:
			state = out.Red("stopped")
		case !cs.Healthy:
			state = out.Yellow("unhealthy: " + cs.Detail)
		}
		pid := "-"
		if cs.PID > 0 {
			pid = fmt.Sprint(cs.PID)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", cs.Name, state, pid, cs.Address, cs.Log)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(s.Dir, devstack.EnvFile)); err == nil {
		fmt.Fprintf(out.Stdout, "\nPoint the nomad, consul, vault and psql CLIs at it:  source %s\n", filepath.Join(s.Dir, devstack.EnvFile))
	}
	return nil
}

func devEnv(c *cli.Context) error {
	out := OutputFromContext(c)
	s, err := devstack.Open(c.String("dir"))
	if err != nil {
		return err
	}
	if r := s.Running(); !r[devstack.Vault] || !r[devstack.Nomad] {
		return fmt.Errorf("the dev stack in %s is not running: start it with `hstack dev up`", s.Dir)
	}
	if out.JSON {
		m := map[string]string{}
		for _, kv := range s.Env() {
			m[kv[0]] = kv[1]
		}
		return out.Emit(m, "")
	}
	_, err = fmt.Fprint(out.Stdout, s.EnvScript())
	return err
}

func devCheck(c *cli.Context) error {
	out := OutputFromContext(c)
	opts := devstack.Options{Dir: c.String("dir")}
	if c.Bool("free-ports") {
		p, err := devstack.FreePorts()
		if err != nil {
			return err
		}
		opts.Ports = &p
	}
	problems := devstack.Preflight(opts)
	for _, p := range problems {
		if err := out.Emit(map[string]string{"problem": p.Error()}, "problem: %s", p); err != nil {
			return err
		}
	}
	if len(problems) > 0 {
		return &ExitError{Code: ExitFailure, Err: fmt.Errorf("dev up would fail: %s", english.Plural(len(problems), "problem", ""))}
	}
	return out.Emit(map[string]string{"status": "ready"}, "Ready for `hstack dev up`.")
}
