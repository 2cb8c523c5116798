package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

func abortCommand() *cli.Command {
	return &cli.Command{
		Name:        "abort",
		Usage:       "fail APP's active deployment so the stable version is restored, and follow the revert",
		ArgsUsage:   "APP",
		Description: revertExitsUsage,
		Flags:       stackFlags(),
		Action: releaseAction(func(c *cli.Context, r *releaseRun, app string) (rollout.Result, error) {
			return r.dp.Abort(c.Context, r.stack, app)
		}),
	}
}

const revertExitsUsage = "Exit codes: 0 the stable version is restored and healthy, 1 the revert deployment\n" +
	"failed, 2 nothing to act on or bad input, 3 Nomad unreachable or denied."
