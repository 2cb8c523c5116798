package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

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
