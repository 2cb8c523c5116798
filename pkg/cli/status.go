package cli

import (
	"fmt"
	"strconv"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

func statusCommand() *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show each app's live deployment: version, strategy, per-group counts, Nomad UI link",
		ArgsUsage: "[APP...]",
		Flags:     stackFlags(),
		Action:    statusAction,
	}
}

func statusAction(c *cli.Context) error {
	names := c.Args().Slice()
	if len(names) == 0 {
		st, err := loadStack(c)
		if err != nil {
			return err
		}
		for _, a := range st.Apps {
			names = append(names, a.Name)
		}
	}
	out := OutputFromContext(c)
	// On a cluster (HSTACK_NOMAD_ADDRS), say which servers are down first,
	// each within seconds, rather than wait on the failover client.
	probes, err := probeNomadServers(c)
	if err != nil {
		return err
	}
	if probes != nil {
		line, none := describeServers(probes)
		if err := out.Emit(map[string]any{"nomad_servers": probes}, "%s", line); err != nil {
			return err
		}
		if none {
			return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("no Nomad server answers (%s)", clients.EnvNomadAddrs)}
		}
	}
	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	ui, err := nomadUI(c, "")
	if err != nil {
		return err
	}
	for _, n := range names {
		s, err := rollout.CurrentStatus(c.Context, nc, n)
		if err != nil {
			return &ExitError{Code: ExitUnreachable, Err: err}
		}
		link := ""
		if s.DeploymentID != "" {
			link = ui.Job(n)
		}
		if out.JSON {
			if err := out.Emit(struct {
				rollout.Status
				UI string `json:"ui,omitempty"`
			}{s, link}, ""); err != nil {
				return err
			}
			continue
		}
		fmt.Fprintf(out.Stdout, "%s  version %s (job v%s)  strategy %s\n", out.Bold(n), orDash(s.AppVersion), strconv.FormatUint(s.JobVersion, 10), orDash(s.Strategy))
		if s.DeploymentID != "" {
			fmt.Fprintf(out.Stdout, "  deployment %s  %s: %s\n", rollout.ShortID(s.DeploymentID), s.Status, s.Description)
			tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  GROUP\tDESIRED\tPLACED\tHEALTHY\tUNHEALTHY\tCANARIES")
			for _, g := range s.Groups {
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d/%d\n", g.Name, g.Desired, g.Placed, g.Healthy, g.Unhealthy, g.Canaries, g.DesiredCanaries)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(s.Gate) > 0 {
				fmt.Fprintln(out.Stdout, "  gate:")
				for _, l := range s.Gate {
					fmt.Fprintf(out.Stdout, "    %s\n", l)
				}
			}
			fmt.Fprintf(out.Stdout, "  Nomad UI: %s\n", link) // labelled as deploy labels its links
		}
		writeScalingStatus(c.Context, out.Stdout, nc, n)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
