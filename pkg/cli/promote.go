package cli

import (
	"github.com/urfave/cli/v2"
)

func promoteCommand() *cli.Command {
	return &cli.Command{
		Name:        "promote",
		Usage:       "promote APP's waiting canaries and follow the deployment to its end",
		ArgsUsage:   "APP",
		Description: "Tags and notifies like a release `hstack deploy` promotes by itself.\n\n" + deployExitsUsage,
		Flags:       stackFlags(),
		Action: func(c *cli.Context) error {
			if err := ExactArgs(c, "APP"); err != nil {
				return err
			}
			r, err := newReleaseRun(c)
			if err != nil {
				return err
			}
			res, err := r.dp.Promote(c.Context, r.stack, c.Args().First())
			r.view.Done()
			return finishRelease(c, res, err)
		},
	}
}
