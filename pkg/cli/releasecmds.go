package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/nomadui"
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

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name: "promote", Usage: "promote APP's waiting canaries and follow the deployment to its end",
		ArgsUsage: "APP", Action: releaseAction(rollout.Promote),
		Description: deployExitsUsage,
	}
}

func abortCommand() *cli.Command {
	return &cli.Command{
		Name: "abort", Usage: "fail APP's active deployment so the stable version is restored, and follow the revert",
		ArgsUsage: "APP", Action: releaseAction(rollout.Abort),
		Description: revertExitsUsage,
	}
}

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:        "rollback",
		Usage:       "revert APP to its last stable version (or --to-version N, or --to-tag NAME) and follow the deployment",
		ArgsUsage:   "APP",
		Description: revertExitsUsage,
		Flags: []cli.Flag{
			&cli.Uint64Flag{Name: "to-version", Usage: "job version `N` to revert to (see `hstack history`)"},
			&cli.StringFlag{Name: "to-tag", Usage: "version tag `NAME` to revert to, e.g. release-1.2.0"},
		},
		Action: func(c *cli.Context) error {
			if err := ExactArgs(c, "APP"); err != nil {
				return err
			}
			job := c.Args().First()
			nc, err := nomadClient(c)
			if err != nil {
				return err
			}
			var version *uint64
			switch {
			case c.IsSet("to-version") && c.IsSet("to-tag"):
				return UsageErrorf("--to-version and --to-tag name the same thing: give one")
			case c.IsSet("to-version"):
				v := c.Uint64("to-version")
				version = &v
			case c.IsSet("to-tag"):
				j, _, err := nc.Jobs().VersionByTag(job, c.String("to-tag"), (&nomadapi.QueryOptions{}).WithContext(c.Context))
				if err != nil {
					return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--to-tag %q: %w", c.String("to-tag"), err)}
				}
				version = j.Version
			}
			ui, err := nomadUI(c, "")
			if err != nil {
				return err
			}
			view := newEventView(OutputFromContext(c))
			view.ui = ui
			res, err := rollout.Rollback(c.Context, nc, job, version, view)
			return finishRelease(c, ui, res, err)
		},
	}
}

func historyCommand() *cli.Command {
	return &cli.Command{
		Name: "history", Usage: "list APP's job versions with their deployments' outcomes and release tags",
		ArgsUsage: "APP",
		Action: func(c *cli.Context) error {
			if err := ExactArgs(c, "APP"); err != nil {
				return err
			}
			nc, err := nomadClient(c)
			if err != nil {
				return err
			}
			hist, err := rollout.History(c.Context, nc, c.Args().First())
			if err != nil {
				return &ExitError{Code: ExitUnreachable, Err: err}
			}
			out := OutputFromContext(c)
			if out.JSON {
				for _, h := range hist {
					if err := out.Emit(h, ""); err != nil {
						return err
					}
				}
				return nil
			}
			tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tSTABLE\tSUBMITTED\tAPP VERSION\tTAG\tDEPLOYMENT")
			for _, h := range hist {
				dep := h.Deployment
				if h.Message != "" {
					dep += ": " + h.Message
				}
				fmt.Fprintf(tw, "%d\t%v\t%s\t%s\t%s\t%s\n", h.Version, h.Stable, h.Submitted.Local().Format(time.DateTime), h.AppVersion, h.Tag, dep)
			}
			return tw.Flush()
		},
	}
}

// releaseAction runs promote or abort on APP and follows the deployment.
func releaseAction(op func(ctx context.Context, nc *nomadapi.Client, job string, sink rollout.Sink) (rollout.Result, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := ExactArgs(c, "APP"); err != nil {
			return err
		}
		nc, err := nomadClient(c)
		if err != nil {
			return err
		}
		ui, err := nomadUI(c, "")
		if err != nil {
			return err
		}
		view := newEventView(OutputFromContext(c))
		view.ui = ui
		res, err := op(c.Context, nc, c.Args().First(), view)
		view.Done()
		return finishRelease(c, ui, res, err)
	}
}

func finishRelease(c *cli.Context, ui nomadui.Links, res rollout.Result, err error) error {
	if err != nil {
		var ce *rollout.ClusterError
		switch {
		case errors.As(err, &ce):
			return &ExitError{Code: ExitUnreachable, Err: err}
		case errors.Is(err, rollout.ErrNoActiveDeployment):
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return &ExitError{Code: ExitRolledBack, Err: err}
	}
	if err := printResults(OutputFromContext(c), ui, []rollout.Result{res}); err != nil {
		return err
	}
	code := outcomeCode(res.Outcome)
	if res.Outcome == rollout.RolledBack && (c.Command.Name == "abort" || c.Command.Name == "rollback") {
		code = ExitOK // what was asked for
	}
	if code != ExitOK {
		return &ExitError{Code: code, Err: fmt.Errorf("%s: %s", res.Job, res.Outcome)}
	}
	return nil
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
	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	ui, err := nomadUI(c, "")
	if err != nil {
		return err
	}
	out := OutputFromContext(c)
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
			fmt.Fprintf(out.Stdout, "  deployment %s  %s: %s\n", shortID(s.DeploymentID), s.Status, s.Description)
			tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "  GROUP\tDESIRED\tPLACED\tHEALTHY\tUNHEALTHY\tCANARIES")
			for _, g := range s.Groups {
				fmt.Fprintf(tw, "  %s\t%d\t%d\t%d\t%d\t%d/%d\n", g.Name, g.Desired, g.Placed, g.Healthy, g.Unhealthy, g.Canaries, g.DesiredCanaries)
			}
			tw.Flush()
			if len(s.Gate) > 0 {
				fmt.Fprintln(out.Stdout, "  gate:")
				for _, l := range s.Gate {
					fmt.Fprintf(out.Stdout, "    %s\n", l)
				}
			}
			fmt.Fprintf(out.Stdout, "  Nomad UI: %s\n", link)
		}
	}
	return nil
}

const revertExitsUsage = "Exit codes: 0 the stable version is restored and healthy, 1 the revert deployment\n" +
	"failed, 2 nothing to act on or bad input, 3 Nomad unreachable or denied."

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
