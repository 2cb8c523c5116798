package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
	"github.com/hstack-dev/hstack/pkg/vaultplan"
	"github.com/hstack-dev/hstack/pkg/workloadid"
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
	envRootPassword = "HSTACK_DB_ROOT_PASSWORD"

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
			{
				Name:  "setup",
				Usage: "configure Vault's database secrets engine and Nomad workload identity from the stack file",
				Description: "Makes Vault trust the Nomad cluster's workload identities (JWT auth method on Nomad's\n" +
					"JWKS, the nomad-workloads role and policy), then for each database block enables the\n" +
					"database secrets engine at vault_mount, writes the PostgreSQL connection and one Vault\n" +
					"role per declared role. Only what differs is written; a second run changes nothing.\n\n" +
					"The root credential (--root-username, --root-password-file or " + envRootPassword + ") is\n" +
					"needed only to create a connection or to point it at another server; Vault rotates it\n" +
					"right away, so afterwards nobody knows it.\n\n" + dbExitsUsage,
				Flags: append(stackFlags(),
					databaseFlag(),
					&cli.StringFlag{Name: flagRootUsername, Category: catDatabase, Value: vaultdb.DefaultRootUsername, Usage: "PostgreSQL `USER` Vault administers users as (the server's master user in production)"},
					&cli.StringFlag{Name: flagRootPasswordFile, Category: catDatabase, Usage: "read the root user's password from `FILE` (or set " + envRootPassword + ")"},
					&cli.StringFlag{Name: flagJWKSURL, Category: catDatabase, EnvVars: []string{"HSTACK_NOMAD_JWKS_URL"}, Usage: "Nomad's JWKS `URL` as Vault reaches it (default: the Nomad address + /.well-known/jwks.json)"},
					&cli.StringFlag{Name: flagJWKSCAFile, Category: catDatabase, Usage: "PEM `FILE` of the CA that signed Nomad's certificate, for an https JWKS URL"},
					&cli.BoolFlag{Name: flagDryRun, Category: catDatabase, Usage: "show what would change; write nothing"},
				),
				Action: dbSetup,
			},
			{
				Name:  "check",
				Usage: "verify the chain from a Nomad task to its database credentials; exit 1 naming what is wrong",
				Description: "Checks the JWT auth method (mount, JWKS URL reachable and serving keys, audience,\n" +
					"claim mappings, role and policy) and, per database, the secrets engine, the connection,\n" +
					"every declared role, and that each role's credentials can really be issued (one test\n" +
					"user per role, revoked at once). With --jwt-file it also logs in with that Nomad\n" +
					"workload identity and proves the job reads only its own role's credentials.\n\n" + dbExitsUsage,
				Flags: append(stackFlags(), databaseFlag(),
					&cli.StringFlag{Name: flagJWKSURL, Category: catDatabase, EnvVars: []string{"HSTACK_NOMAD_JWKS_URL"}, Usage: "expected JWKS `URL` (default: whatever Vault has, checked for keys)"},
					&cli.StringFlag{Name: flagJWTFile, Category: catDatabase, Usage: "a Nomad workload identity for Vault (a task's secrets/nomad_vault_default.jwt) to test a login with, from `FILE`"},
				),
				Action: dbCheck,
			},
			{
				Name:      "creds",
				Usage:     "issue short-lived credentials of ROLE to an operator",
				ArgsUsage: "ROLE",
				Description: "Prints the user, password, lease ID and expiry. The password is printed only to a\n" +
					"terminal or with --json; piped output gets everything else and a hint.\n\n" + dbExitsUsage,
				Flags: append(stackFlags(), databaseFlag(),
					&cli.DurationFlag{Name: flagTTL, Category: catDatabase, Usage: "lease `DURATION` instead of the role's default_ttl (capped at its max_ttl)"},
				),
				Action: dbCreds,
			},
			{
				Name:      "leases",
				Usage:     "list outstanding credentials, of ROLE or of every role",
				ArgsUsage: "[ROLE]",
				Flags:     append(stackFlags(), databaseFlag()),
				Action:    dbLeases,
			},
			{
				Name:      "revoke",
				Usage:     "revoke one lease, or every lease of a role (--role); the users are dropped",
				ArgsUsage: "LEASE_ID | --role ROLE",
				Flags: append(stackFlags(), databaseFlag(),
					&cli.StringFlag{Name: flagRole, Category: catDatabase, Usage: "revoke every lease of `ROLE`"},
				),
				Action: dbRevoke,
			},
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

func dbSetup(c *cli.Context) error {
	dc, err := newDBContext(c)
	if err != nil {
		return err
	}
	root, err := rootCredential(c)
	if err != nil {
		return err
	}
	wcfg, err := workloadConfig(c, dc.st, true)
	if err != nil {
		return err
	}
	ctx := c.Context
	// Every spec first: a bad Terraform output must stop the run before
	// anything is written.
	var specs []vaultdb.Spec
	for _, db := range dc.dbs {
		s, err := dc.spec(ctx, db)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}
	dry := c.Bool(flagDryRun)
	var all []vaultplan.Change
	if dry {
		dc.out.Linef("Dry run: workload identity is not compared; database changes Vault would get:")
	} else {
		ch, err := workloadid.Setup(ctx, dc.vault, wcfg)
		if err != nil {
			return vaultFailure(err)
		}
		all = append(all, ch...)
		if err := printChanges(dc.out, "workload identity", ch); err != nil {
			return err
		}
	}
	for i, s := range specs {
		ch, err := vaultdb.Setup(ctx, dc.vault, s, vaultdb.Options{Root: root, DryRun: dry})
		if perr := printChanges(dc.out, "database "+dc.dbs[i].Name, ch); perr != nil {
			return perr
		}
		if err != nil {
			return vaultFailure(err)
		}
		all = append(all, ch...)
	}
	n := 0
	for _, ch := range all {
		if ch.Action != vaultplan.Unchanged {
			n++
		}
	}
	verb := "changed"
	if dry {
		verb = "would change"
	}
	if n == 0 {
		return dc.out.Emit(map[string]any{"kind": "summary", "changed": 0}, "No changes: Vault already matches %s.", dc.st.Filename)
	}
	return dc.out.Emit(map[string]any{"kind": "summary", "changed": n, "dry_run": dry}, "%s %s.", countNoun(n, "object"), verb)
}

func printChanges(out *Output, section string, changes []vaultplan.Change) error {
	if !out.JSON && len(changes) > 0 {
		fmt.Fprintf(out.Stdout, "%s:\n", out.Bold(section))
	}
	for _, ch := range changes {
		line := "  " + ch.String()
		switch ch.Action {
		case vaultplan.Create:
			line = out.Green(line)
		case vaultplan.Update, vaultplan.Rotate:
			line = out.Yellow(line)
		}
		if err := out.Emit(struct {
			Kind    string `json:"kind"`
			Section string `json:"section"`
			vaultplan.Change
		}{"change", section, ch}, "%s", line); err != nil {
			return err
		}
	}
	return nil
}

// rootCredential reads the root password from --root-password-file or the
// environment; nil when neither is given.
func rootCredential(c *cli.Context) (*vaultdb.Root, error) {
	pw := os.Getenv(envRootPassword)
	if f := c.String(flagRootPasswordFile); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, UsageErrorf("invalid --%s: %v", flagRootPasswordFile, err)
		}
		pw = strings.TrimRight(string(b), "\r\n")
		if pw == "" {
			return nil, UsageErrorf("invalid --%s: %s is empty", flagRootPasswordFile, f)
		}
	}
	if pw == "" {
		return nil, nil
	}
	return &vaultdb.Root{Username: c.String(flagRootUsername), Password: clients.Secret(pw)}, nil
}

// workloadConfig: the JWKS URL defaults to the Nomad address hstack talks
// to, which is right when Vault reaches Nomad the same way.
func workloadConfig(c *cli.Context, st *stackfile.Stack, defaultURL bool) (workloadid.Config, error) {
	cfg := workloadid.Config{JWKSURL: c.String(flagJWKSURL)}
	// Every database of the stack, not only --database: the policy is one
	// for all of the cluster's workloads.
	for _, db := range st.Databases {
		cfg.DatabaseMounts = append(cfg.DatabaseMounts, db.VaultMount)
	}
	if cfg.JWKSURL == "" && defaultURL {
		nc, err := clients.Nomad(ConfigFromContext(c))
		if err != nil {
			return cfg, UsageErrorf("%v", err)
		}
		cfg.JWKSURL = strings.TrimRight(nc.Address(), "/") + "/.well-known/jwks.json"
	}
	if f := c.String(flagJWKSCAFile); c.IsSet(flagJWKSCAFile) && f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return cfg, UsageErrorf("invalid --%s: %v", flagJWKSCAFile, err)
		}
		cfg.JWKSCAPEM = string(b)
	}
	return cfg, nil
}

func dbCheck(c *cli.Context) error {
	dc, err := newDBContext(c)
	if err != nil {
		return err
	}
	wcfg, err := workloadConfig(c, dc.st, false)
	if err != nil {
		return err
	}
	var jwt string
	if f := c.String(flagJWTFile); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return UsageErrorf("invalid --%s: %v", flagJWTFile, err)
		}
		jwt = strings.TrimSpace(string(b))
	}
	ctx := c.Context
	var specs []vaultdb.Spec
	for _, db := range dc.dbs {
		s, err := dc.spec(ctx, db)
		if err != nil {
			return err
		}
		specs = append(specs, s)
	}

	type line struct {
		Kind    string `json:"kind"`
		Section string `json:"section"`
		workloadid.Result
	}
	var problems []string
	unreachable := false
	report := func(section string, rs []workloadid.Result) error {
		if !dc.out.JSON {
			fmt.Fprintf(dc.out.Stdout, "%s:\n", dc.out.Bold(section))
		}
		for _, r := range rs {
			mark := dc.out.Green("ok  ")
			switch {
			case r.Skipped:
				mark = dc.out.Yellow("skip")
			case !r.OK:
				mark = dc.out.Red("FAIL")
				problems = append(problems, section+": "+r.Check+": "+r.Detail)
				if r.Check == "vault reachable" {
					unreachable = true
				}
			}
			if err := dc.out.Emit(line{"check", section, r}, "  %s %s: %s", mark, r.Check, r.Detail); err != nil {
				return err
			}
		}
		return nil
	}

	if err := report("workload identity", workloadid.Check(ctx, dc.vault, wcfg, &http.Client{Timeout: 10 * time.Second})); err != nil {
		return err
	}
	for i, s := range specs {
		var rs []workloadid.Result
		for _, r := range vaultdb.Check(ctx, dc.vault, s) {
			rs = append(rs, workloadid.Result{Check: r.Check, OK: r.OK, Detail: r.Detail})
		}
		var roles []string
		for _, r := range s.Roles {
			roles = append(roles, r.Name)
		}
		if jwt != "" {
			rs = append(rs, workloadid.CheckLogin(ctx, dc.vault, wcfg, jwt, s.Mount, roles)...)
		} else {
			rs = append(rs, workloadid.Result{Check: "workload login", OK: true, Skipped: true,
				Detail: "no --jwt-file: Nomad gives identities only to running tasks; pass one (a task with identity { name = \"vault_default\" file = true } has it in secrets/nomad_vault_default.jwt) to test a real login"})
		}
		if err := report("database "+dc.dbs[i].Name, rs); err != nil {
			return err
		}
	}
	if len(problems) == 0 {
		return dc.out.Emit(map[string]any{"kind": "summary", "problems": 0}, "All checks passed.")
	}
	code := ExitFailure
	if unreachable {
		code = ExitUnreachable
	}
	return &ExitError{Code: code, Err: fmt.Errorf("%s:\n  %s", countNoun(len(problems), "problem"), strings.Join(problems, "\n  "))}
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
		return out.Emit(map[string]any{"role": role, "revoked": n}, "Revoked %s of role %s.", countNoun(n, "lease"), role)
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
