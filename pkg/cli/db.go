package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

const (
	flagDatabase         = "database"
	flagRootUsername     = "root-username"
	flagRootPasswordFile = "root-password-file"
	flagJWKSURL          = "jwks-url"
	flagJWKSCAFile       = "jwks-ca-file"
	flagDryRun           = "dry-run"
	flagJWTFile          = "jwt-file"
	flagTTL              = "ttl"
	flagRole             = "role"
	catDatabase          = "Database"

	// envRootPassword is how CI hands over the root password without a
	// file; it is never a flag value, which `ps` would show.
	envRootPassword = "HSTACK_DB_ROOT_PASSWORD" // #nosec G101 -- the variable's name, not a password

	dbExitsUsage = "Exit codes: 0 ok, 1 failed (or, for check, a problem found), 2 bad input or\n" +
		"a missing root credential (nothing changed), 3 Vault unreachable or denied."
)

func databaseFlag() cli.Flag {
	return &cli.StringFlag{Name: flagDatabase, Category: catDatabase, Usage: "only the database block `NAME` (default: every database of the stack)"}
}

func dbCommand() *cli.Command {
	return &cli.Command{
		Name:  "db",
		Usage: "Vault-issued PostgreSQL credentials: set up, check, issue, list and revoke",
		Subcommands: []*cli.Command{
			dbSetupCommand(),
			dbCheckCommand(),
			dbCredsCommand(),
			dbLeasesCommand(),
			dbRevokeCommand(),
			dbSnapshotCommand(),
		},
	}
}

// dbContext is what every db subcommand needs: the stack, the selected
// databases and a Vault client.
type dbContext struct {
	out   *Output
	st    *stackfile.Stack
	dbs   []*stackfile.Database
	vault *vaultapi.Client
}

func newDBContext(c *cli.Context) (*dbContext, error) {
	st, err := loadStack(c)
	if err != nil {
		return nil, err
	}
	dc := &dbContext{out: OutputFromContext(c), st: st, dbs: st.Databases}
	if name := c.String(flagDatabase); name != "" {
		db := st.Database(name)
		if db == nil {
			return nil, UsageErrorf("invalid --%s %q: %s declares %s", flagDatabase, name, st.Filename, declaredDatabases(st))
		}
		dc.dbs = []*stackfile.Database{db}
	}
	if len(dc.dbs) == 0 {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s declares no database block", st.Filename)}
	}
	dc.vault, err = clients.Vault(ConfigFromContext(c))
	if err != nil {
		return nil, &ExitError{Code: ExitUnreachable, Err: err}
	}
	return dc, nil
}

func declaredDatabases(st *stackfile.Stack) string {
	var names []string
	for _, d := range st.Databases {
		names = append(names, d.Name)
	}
	if len(names) == 0 {
		return "no database"
	}
	return "database " + strings.Join(names, ", ")
}

// roleDatabase finds the database declaring role among the selected ones.
func (dc *dbContext) roleDatabase(role string) (*stackfile.Database, error) {
	var found []*stackfile.Database
	var all []string
	for _, d := range dc.dbs {
		for _, r := range d.Roles {
			all = append(all, r.Name)
		}
		if d.Role(role) != nil {
			found = append(found, d)
		}
	}
	switch len(found) {
	case 0:
		sort.Strings(all)
		return nil, UsageErrorf("no role %q in %s (declared: %s)", role, dc.st.Filename, strings.Join(all, ", "))
	case 1:
		return found[0], nil
	}
	return nil, UsageErrorf("role %q is declared by several databases; choose one with --%s", role, flagDatabase)
}

func (dc *dbContext) spec(ctx context.Context, db *stackfile.Database) (vaultdb.Spec, error) {
	eps, err := tfoutputs.EndpointsFor(ctx, dc.st, db, tfoutputs.Terraform{})
	if err != nil {
		// The stack file names outputs Terraform does not have, or its
		// state cannot be read: the input is wrong, not the cluster.
		return vaultdb.Spec{}, &ExitError{Code: ExitUsage, Err: err}
	}
	// Vault connects to the writer: its roles create users.
	s, err := vaultdb.SpecFor(db, vaultdb.Endpoint{Host: eps.Writer, Port: eps.Port})
	if err != nil {
		return vaultdb.Spec{}, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: %w", db.DeclRange, err)}
	}
	return s, nil
}

// vaultFailure classifies an error from Vault the way deploy does:
// unreachable or denied is ExitUnreachable, a missing root credential is
// bad input, anything else a failure.
func vaultFailure(err error) error {
	var (
		ve   *vaultdb.Error
		root *vaultdb.RootNeededError
	)
	switch {
	case errors.As(err, &root):
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%w: pass --%s (or set %s) and, unless it is %s, --%s",
			err, flagRootPasswordFile, envRootPassword, vaultdb.DefaultRootUsername, flagRootUsername)}
	case errors.As(err, &ve) && ve.Denied():
		return &ExitError{Code: ExitUnreachable, Err: err}
	}
	return apiFailure(err, ExitFailure)
}
