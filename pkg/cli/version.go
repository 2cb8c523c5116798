package cli

import (
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/version"
)

func versionCommand() *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print the hstack version, commit and Go version",
		Action: func(c *cli.Context) error {
			return OutputFromContext(c).Emit(version.Get(), "%s %s", appName, version.String())
		},
	}
}
