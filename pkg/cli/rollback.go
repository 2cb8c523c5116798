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
			if err := ExactArgs(c, "APP"); err != nil {
				return err
			}
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
			r, err := newReleaseRun(c)
			if err != nil {
				return err
			}
			res, err := r.dp.Rollback(c.Context, r.stack, c.Args().First(), to)
			r.view.Done()
			return finishRelease(c, res, err)
		},
	}
}
