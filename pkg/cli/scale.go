package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/user"
	"strconv"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/scaling"
)

const (
	flagGroup  = "group"
	flagReason = "reason"
	// statusScalingEvents is how many scaling events `hstack status` shows
	// per group.
	statusScalingEvents = 3
)

func scaleCommand() *cli.Command {
	return &cli.Command{
		Name:      "scale",
		Usage:     "set APP's instance count through Nomad's scale API, within its scaling policy's bounds",
		ArgsUsage: "APP COUNT",
		Description: "The change is recorded in the job's scaling events (see `hstack status`), with --reason\n" +
			"as its message. Exit codes: 0 submitted, 2 bad input or a count outside the policy's\n" +
			"bounds, 3 Nomad unreachable or denied.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: flagGroup, Usage: "task `GROUP` to scale (default: the job's only group, or the one named like it)"},
			&cli.StringFlag{Name: flagReason, Usage: "why, recorded in the scaling event (`TEXT`)"},
		},
		Action: scaleAction,
	}
}

func scaleAction(c *cli.Context) error {
	if err := ExactArgs(c, "APP", "COUNT"); err != nil {
		return err
	}
	app := c.Args().Get(0)
	count, err := strconv.Atoi(c.Args().Get(1))
	if err != nil {
		return UsageErrorf("invalid COUNT %q: want a whole number", c.Args().Get(1))
	}
	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	job, _, err := nc.Jobs().Info(app, (&nomadapi.QueryOptions{}).WithContext(c.Context))
	if err != nil {
		var ue nomadapi.UnexpectedResponseError
		if errors.As(err, &ue) && ue.StatusCode() == 404 {
			return UsageErrorf("no job %q in Nomad (deploy it first)", app)
		}
		return &ExitError{Code: ExitUnreachable, Err: err}
	}
	change, err := scaling.Plan(job, c.String(flagGroup), count)
	if err != nil {
		var be *scaling.BoundsError
		var ue *scaling.UsageError
		if errors.As(err, &be) || errors.As(err, &ue) {
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return err
	}
	reason := c.String(flagReason)
	if reason == "" {
		reason = "hstack scale"
	}
	meta := map[string]any{"by": "hstack"}
	if u, err := user.Current(); err == nil {
		meta["user"] = u.Username
	}
	eval, err := scaling.Apply(c.Context, nc, change, reason, meta)
	if err != nil {
		return apiFailure(err, ExitFailure)
	}
	out := OutputFromContext(c)
	return out.Emit(map[string]any{"job": change.Job, "group": change.Group, "from": change.From, "to": change.To, "eval_id": eval, "reason": reason},
		"%s group %s: %d -> %d (evaluation %s): %s", change.Job, change.Group, change.From, change.To, rollout.ShortID(eval), reason)
}

// writeScalingStatus adds each group's count, bounds and last scaling
// events to `hstack status` (text mode); it is quiet for a job without a
// scaling policy and no events.
func writeScalingStatus(ctx context.Context, w io.Writer, nc *nomadapi.Client, job string) {
	gs, err := scaling.Status(ctx, nc, job, statusScalingEvents)
	if err != nil {
		if !errors.Is(err, scaling.ErrNoJob) {
			fmt.Fprintf(w, "  scaling: %v\n", err)
		}
		return
	}
	for _, l := range scalingLines(gs) {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// scalingLines is the text of writeScalingStatus, one line per group and
// one per event.
func scalingLines(gs []scaling.GroupStatus) []string {
	var out []string
	for _, g := range gs {
		if g.Min == nil && g.Max == nil && len(g.Events) == 0 {
			continue
		}
		bounds := "no scaling policy"
		if g.Min != nil || g.Max != nil {
			bounds = fmt.Sprintf("bounds [%s, %s]", int64OrDash(g.Min), int64OrDash(g.Max))
			if g.Autoscaled {
				bounds += ", autoscaled"
			}
		}
		out = append(out, fmt.Sprintf("scaling %s: count %d (%d running, %d healthy), %s", g.Group, g.Desired, g.Running, g.Healthy, bounds))
		for _, e := range g.Events {
			to := "?"
			if e.To != nil {
				to = strconv.FormatInt(*e.To, 10)
			}
			msg := e.Message
			if e.Error {
				msg = "error: " + msg
			}
			out = append(out, fmt.Sprintf("  %s  %d -> %s  %s", e.Time.Local().Format("2006-01-02 15:04:05"), e.From, to, strings.TrimSpace(msg)))
		}
	}
	return out
}

func int64OrDash(p *int64) string {
	if p == nil {
		return "-"
	}
	return strconv.FormatInt(*p, 10)
}
