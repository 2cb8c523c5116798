package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize/english"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
	"github.com/hstack-dev/hstack/pkg/workloadid"
)

func dbCheckCommand() *cli.Command {
	return &cli.Command{
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
	}
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
		b, err := os.ReadFile(f) // #nosec G304 -- the file the operator named with the flag
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

	// The JWKS is Nomad's: fetched with Nomad's TLS settings.
	jwks, err := clients.NomadHTTP(ConfigFromContext(c), 10*time.Second)
	if err != nil {
		return &ExitError{Code: ExitUnreachable, Err: err}
	}
	if err := report("workload identity", workloadid.Check(ctx, dc.vault, wcfg, jwks)); err != nil {
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
	return &ExitError{Code: code, Err: fmt.Errorf("%s:\n  %s", english.Plural(len(problems), "problem", ""), strings.Join(problems, "\n  "))}
}
