package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

func dbCredsCommand() *cli.Command {
	return &cli.Command{
		Name:      "creds",
		Usage:     "issue short-lived credentials of ROLE to an operator",
		ArgsUsage: "ROLE",
		Description: "Prints the user, password, lease ID and expiry. The password is printed only to a\n" +
			"terminal or with --json; piped output gets everything else and a hint.\n\n" + dbExitsUsage,
		Flags: append(stackFlags(), databaseFlag(),
			&cli.DurationFlag{Name: flagTTL, Category: catDatabase, Usage: "lease `DURATION` instead of the role's default_ttl (capped at its max_ttl)"},
		),
		Action: dbCreds,
	}
}

func dbCreds(c *cli.Context) error {
	role := c.Args().First()
	dc, err := newDBContext(c)
	if err != nil {
		return err
	}
	db, err := dc.roleDatabase(role)
	if err != nil {
		return err
	}
	if c.IsSet(flagTTL) && c.Duration(flagTTL) < time.Second {
		return UsageErrorf("invalid --%s %s: want at least 1s", flagTTL, c.Duration(flagTTL))
	}
	cred, err := vaultdb.Creds(c.Context, dc.vault, db.VaultMount, role, c.Duration(flagTTL))
	if err != nil {
		return vaultFailure(err)
	}
	out := dc.out
	if out.JSON {
		return out.Emit(map[string]any{
			"role": role, "database": db.Name, "username": cred.Username, "password": cred.Password.Reveal(),
			"lease_id": cred.LeaseID, "ttl_seconds": int64(cred.TTL / time.Second), "expires": cred.Expires,
		}, "")
	}
	tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "username\t%s\n", cred.Username)
	if out.TTY {
		fmt.Fprintf(tw, "password\t%s\n", cred.Password.Reveal())
	}
	fmt.Fprintf(tw, "lease_id\t%s\n", cred.LeaseID)
	fmt.Fprintf(tw, "ttl\t%s\n", cred.TTL)
	fmt.Fprintf(tw, "expires\t%s\n", cred.Expires.Format(time.RFC3339))
	if err := tw.Flush(); err != nil {
		return err
	}
	if !out.TTY {
		fmt.Fprintf(out.Stderr, "%s: password not printed because stdout is not a terminal; use --json to get it in machine-readable output (and `hstack db revoke %s` to drop this user)\n", appName, cred.LeaseID)
	}
	return nil
}
