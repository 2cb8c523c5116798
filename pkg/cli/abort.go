package cli

import (
	"github.com/urfave/cli/v2"
)

func abortCommand() *cli.Command {
	return &cli.Command{
		Name:        "abort",
		Usage:       "fail APP's active deployment so the stable version is restored, and follow the revert",
		ArgsUsage:   "APP",
		Description: revertExitsUsage,
		Flags:       stackFlags(),
		Action: func(c *cli.Context) error {
			if err := ExactArgs(c, "APP"); err != nil {
				return err
			}
			r, err := newReleaseRun(c)
			if err != nil {
				return err
			}
			res, err := r.dp.Abort(c.Context, r.stack, c.Args().First())
			r.view.Done()
			return finishRelease(c, res, err)
		},
	}
}

const revertExitsUsage = "Exit codes: 0 the stable version is restored and healthy, 1 the revert deployment\n" +
	"failed, 2 nothing to act on or bad input, 3 Nomad unreachable or denied."
