package cli

import (
	"fmt"
	"os"
	"strings"

	"github.com/dustin/go-humanize/english"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
	"github.com/hstack-dev/hstack/pkg/vaultplan"
	"github.com/hstack-dev/hstack/pkg/workloadid"
)

func dbSetupCommand() *cli.Command {
	return &cli.Command{
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
	}
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
			return adminNeeded(dc.vault.Token() != "", err)
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
			return adminNeeded(dc.vault.Token() != "", err)
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
	return dc.out.Emit(map[string]any{"kind": "summary", "changed": n, "dry_run": dry}, "%s %s.", english.Plural(n, "object", ""), verb)
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
		b, err := os.ReadFile(f) // #nosec G304 -- the file the operator named with the flag
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
		b, err := os.ReadFile(f) // #nosec G304 -- the file the operator named with the flag
		if err != nil {
			return cfg, UsageErrorf("invalid --%s: %v", flagJWKSCAFile, err)
		}
		cfg.JWKSCAPEM = string(b)
	}
	return cfg, nil
}

// adminNeeded names, for a refused token, what db setup takes: the
// hstack-admin policy (the deployer's Vault token may not configure
// Vault, by design).
func adminNeeded(tokenGiven bool, err error) error {
	if clients.Classify(err) != clients.Denied {
		return vaultFailure(err)
	}
	who := "the token in VAULT_TOKEN"
	if !tokenGiven {
		who = "no token (VAULT_TOKEN is not set)"
	}
	return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("db setup: Vault refused %s: it configures JWT auth, policies and the database secrets engine, which takes the hstack-admin policy (policies/vault/hstack-admin.hcl): %w", who, err)}
}
