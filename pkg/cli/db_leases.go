package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

func dbLeasesCommand() *cli.Command {
	return &cli.Command{
		Name:      "leases",
		Usage:     "list outstanding credentials, of ROLE or of every role",
		ArgsUsage: "[ROLE]",
		Flags:     append(stackFlags(), databaseFlag()),
		Action:    dbLeases,
	}
}

func dbLeases(c *cli.Context) error {
	dc, err := newDBContext(c)
	if err != nil {
		return err
	}
	role := c.Args().First()
	dbs := dc.dbs
	if role != "" {
		db, err := dc.roleDatabase(role)
		if err != nil {
			return err
		}
		dbs = []*stackfile.Database{db}
	}
	var leases []vaultdb.Lease
	seen := map[string]bool{}
	for _, db := range dbs {
		// Databases sharing a mount would list the same leases twice.
		if seen[db.VaultMount] {
			continue
		}
		seen[db.VaultMount] = true
		ls, err := vaultdb.Leases(c.Context, dc.vault, db.VaultMount, role)
		if err != nil {
			return vaultFailure(err)
		}
		leases = append(leases, ls...)
	}
	out := dc.out
	if out.JSON {
		for _, l := range leases {
			if err := out.Emit(struct {
				vaultdb.Lease
				TTLSeconds int64 `json:"ttl_seconds"`
			}{l, int64(l.TTL / time.Second)}, ""); err != nil {
				return err
			}
		}
		return nil
	}
	if len(leases) == 0 {
		out.Linef("No leases.")
		return nil
	}
	tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEASE ID\tROLE\tISSUED\tEXPIRES\tTTL")
	for _, l := range leases {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", l.ID, l.Role, l.Issued.Format(time.RFC3339), l.Expires.Format(time.RFC3339), l.TTL)
	}
	return tw.Flush()
}
