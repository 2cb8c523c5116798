package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

func rollbackCommand() *cli.Command {
	return &cli.Command{
		Name:        "rollback",
		Usage:       "revert APP to its last stable version (or --to-version N, or --to-tag NAME) and follow the deployment",
		ArgsUsage:   "APP",
		Description: revertExitsUsage,
		Flags: append(stackFlags(),
			&cli.Uint64Flag{Name: "to-version", Usage: "job version `N` to revert to (see `hstack history`)"},
			&cli.StringFlag{Name: "to-tag", Usage: "version tag `NAME` to revert to, e.g. release-1.2.0"},
		),
		Action: func(c *cli.Context) error {
			var to rollout.RollbackTo
			switch {
			case c.IsSet("to-version") && c.IsSet("to-tag"):
				return UsageErrorf("--to-version and --to-tag name the same thing: give one")
			case c.IsSet("to-version"):
				v := c.Uint64("to-version")
				to.Version = &v
			case c.IsSet("to-tag"):
				to.Tag = c.String("to-tag")
			}
			return releaseAction(func(c *cli.Context, r *releaseRun, app string) (rollout.Result, error) {
				return r.dp.Rollback(c.Context, r.stack, app, to)
			})(c)
		},
	}
}
