package cli

import (
	"strings"

	"github.com/dustin/go-humanize/english"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

func dbRevokeCommand() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke one lease, or every lease of a role (--role); the users are dropped",
		ArgsUsage: "LEASE_ID | --role ROLE",
		Flags: append(stackFlags(), databaseFlag(),
			&cli.StringFlag{Name: flagRole, Category: catDatabase, Usage: "revoke every lease of `ROLE`"},
		),
		Action: dbRevoke,
	}
}

func dbRevoke(c *cli.Context) error {
	role := c.String(flagRole)
	switch {
	case role != "" && c.NArg() > 0:
		return UsageErrorf("give either a LEASE_ID or --%s, not both (see '%s --help')", flagRole, commandPath(c))
	case role == "":
		if err := ExactArgs(c, "LEASE_ID"); err != nil {
			return err
		}
	}
	dc, err := newDBContext(c)
	if err != nil {
		return err
	}
	out := dc.out
	if role != "" {
		db, err := dc.roleDatabase(role)
		if err != nil {
			return err
		}
		n, err := vaultdb.RevokeRole(c.Context, dc.vault, db.VaultMount, role)
		if err != nil {
			return vaultFailure(err)
		}
		return out.Emit(map[string]any{"role": role, "revoked": n}, "Revoked %s of role %s.", english.Plural(n, "lease", ""), role)
	}
	lease := c.Args().First()
	var db *stackfile.Database
	for _, d := range dc.dbs {
		if strings.HasPrefix(lease, strings.Trim(d.VaultMount, "/")+"/creds/") {
			db = d
		}
	}
	if db == nil {
		return UsageErrorf("lease %q is not a database credential of %s (IDs look like <vault_mount>/creds/<role>/<id>; see `hstack db leases`)", lease, dc.st.Filename)
	}
	if err := vaultdb.Revoke(c.Context, dc.vault, db.VaultMount, lease); err != nil {
		if strings.HasPrefix(err.Error(), "no lease") {
			return &ExitError{Code: ExitFailure, Err: err}
		}
		return vaultFailure(err)
	}
	return out.Emit(map[string]any{"lease_id": lease, "revoked": 1}, "Revoked 1 lease: %s.", lease)
}
