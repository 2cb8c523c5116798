package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/catalog"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

func servicesCommand() *cli.Command {
	return &cli.Command{
		Name:      "services",
		Usage:     "list the services in Consul: instances, health, tags, node; sync what the stack registers",
		ArgsUsage: "[SERVICE...]",
		Description: "Lists every instance of the named services (default: every service in the Consul\n" +
			"catalog) with its node, address, health (the worst of its checks and its node's) and\n" +
			"tags. Canaries of a deployment in progress are marked, as are the external services\n" +
			"hstack registers itself. With --json, one object per instance. See docs/services.md.\n\n" +
			"Exit codes: 0 listed, 3 Consul unreachable or denied.",
		Action: servicesAction,
		Subcommands: []*cli.Command{{
			Name:  "sync",
			Usage: "register the stack's databases in Consul and write its apps' config to Consul KV",
			Description: "Makes Consul match the stack file, as hstack deploy does before it registers jobs:\n" +
				"each database is a Consul service with a TCP check (<name> for the writer endpoint,\n" +
				"<name>-reader for a reader), registered with the agent hstack talks to; each app's\n" +
				"config is written to hstack/<stack>/<app>/<version>/ in KV. Registrations and config\n" +
				"versions the stack no longer declares are removed, unless a job version Nomad keeps\n" +
				"still reads them. Running it again changes nothing. See docs/services.md.\n\n" +
				"Exit codes: 0 in sync, 1 failed (e.g. Terraform outputs unreadable), 2 bad stack\n" +
				"file, 3 Consul or Nomad unreachable or denied.",
			Flags:  stackFlags(),
			Action: servicesSyncAction,
		}},
	}
}

func servicesAction(c *cli.Context) error {
	cc, err := consulClient(c)
	if err != nil {
		return err
	}
	insts, err := catalog.Instances(c.Context, cc, c.Args().Slice()...)
	if err != nil {
		return &ExitError{Code: ExitUnreachable, Err: err}
	}
	out := OutputFromContext(c)
	if out.JSON {
		for _, in := range insts {
			if err := out.Emit(in, ""); err != nil {
				return err
			}
		}
		return nil
	}
	if len(insts) == 0 {
		out.Linef("No services.")
		return nil
	}
	tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tINSTANCE\tNODE\tADDRESS\tHEALTH\tTAGS")
	for _, in := range insts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s:%d\t%s\t%s\n", in.Service, instanceLabel(in), in.Node, in.Address, in.Port, paintHealth(out, in.Health), strings.Join(in.Tags, ","))
	}
	return tw.Flush()
}

// instanceLabel names an instance the way an operator looks it up next:
// its Nomad allocation, or what registered it.
func instanceLabel(in catalog.Instance) string {
	var s string
	switch {
	case in.AllocID != "":
		s = "alloc " + in.AllocID[:8]
	case in.External:
		s = "external"
	default:
		s = in.ID
	}
	if in.Canary {
		s += " (canary)"
	}
	return s
}

func paintHealth(out *Output, h string) string {
	switch h {
	case consulapi.HealthPassing:
		return out.Green(h)
	case consulapi.HealthWarning:
		return out.Yellow(h)
	}
	return out.Red(h)
}

func servicesSyncAction(c *cli.Context) error {
	st, err := loadStack(c)
	if err != nil {
		return err
	}
	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	cc, err := consulClient(c)
	if err != nil {
		return err
	}
	return syncServices(c, OutputFromContext(c), st, nc, cc)
}

// syncServices registers the stack's external services and writes its
// apps' configuration. deploy runs it before registering any job: a job
// whose config version is not in KV yet would wait for it.
func syncServices(c *cli.Context, out *Output, st *stackfile.Stack, nc *nomadapi.Client, cc *consulapi.Client) error {
	want, err := catalog.Desired(c.Context, st, tfoutputs.Terraform{})
	if err != nil {
		code := ExitFailure
		if errors.Is(err, catalog.ErrInvalid) {
			code = ExitUsage
		}
		return &ExitError{Code: code, Err: err}
	}
	res, err := catalog.Sync(c.Context, cc, st.Name, want)
	for _, ch := range res.Changes {
		addr := ""
		if ch.Address != "" {
			addr = fmt.Sprintf(" (%s:%d)", ch.Address, ch.Port)
		}
		if e := out.Emit(struct {
			Kind string `json:"kind"`
			catalog.Change
		}{"service", ch}, "%s service %s%s", ch.Action, ch.Service, addr); e != nil {
			return e
		}
	}
	for _, e := range res.Elsewhere {
		// Not removable through this agent, and possibly stale: say so,
		// on stderr in JSON mode too, where nothing parses it.
		fmt.Fprintf(out.Stderr, "%s: warning: service %s (%s) is also registered by hstack on node %s; deregister it through that node's agent if it is stale\n",
			appName, e.Service, e.ID, e.Node)
	}
	if err != nil {
		return &ExitError{Code: ExitUnreachable, Err: err}
	}

	changes, err := (&appconfig.Syncer{Consul: cc, Nomad: nc}).Sync(c.Context, st)
	code := ExitUnreachable
	if errors.Is(err, appconfig.ErrInvalidKey) {
		code = ExitUsage
	}
	for _, ch := range changes {
		what := "version " + ch.Version
		if ch.Key != "" {
			what = ch.Key + " in " + what
		}
		if e := out.Emit(struct {
			Kind string `json:"kind"`
			appconfig.Change
		}{"config", ch}, "config %s: %s %s", ch.App, ch.Action, what); e != nil {
			return e
		}
	}
	if err != nil {
		return &ExitError{Code: code, Err: err}
	}
	return nil
}
