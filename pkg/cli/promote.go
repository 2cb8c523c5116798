package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:        "promote",
		Usage:       "promote APP's waiting canaries and follow the deployment to its end",
		ArgsUsage:   "APP",
		Description: "Tags and notifies like a release `hstack deploy` promotes by itself.\n\n" + deployExitsUsage,
		Flags:       stackFlags(),
		Action: releaseAction(func(c *cli.Context, r *releaseRun, app string) (rollout.Result, error) {
			return r.dp.Promote(c.Context, r.stack, app)
		}),
	}
}
