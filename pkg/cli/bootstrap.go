package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/bootstrap"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/policies"
)

func bootstrapCommand() *cli.Command {
	return &cli.Command{
		Name:  "bootstrap",
		Usage: "turn on least privilege in a cluster",
		Subcommands: []*cli.Command{{
			Name:  "acl",
			Usage: "bootstrap Nomad and Consul ACLs, apply policies/, create the tokens hstack, the agents and the workloads need",
			Description: "Bootstraps the Nomad and Consul ACL systems (or, when they are bootstrapped, uses the management\n" +
				"tokens given as NOMAD_TOKEN / CONSUL_HTTP_TOKEN, or the ones it stored in Vault before), applies every\n" +
				"policy in policies/, creates a role and a token per policy and an app-<job> Consul policy per app of the\n" +
				"stack file, sets the Consul agent's own token through the agent token API, and stores every token in\n" +
				"Vault KV under kv/hstack-acl/ (VAULT_TOKEN must be root or hstack-admin). Tokens are never written to\n" +
				"disk or printed, except the management tokens with --print-once on the very first bootstrap.\n" +
				"Safe to run again: a second run changes nothing and says so; a policy removed from policies/ is\n" +
				"reported, not deleted.",
			Flags: append(stackFlags(),
				&cli.StringFlag{Name: "policies", Value: "policies", Usage: "policy `DIR` with nomad/, consul/ and vault/ (the built-in copy when DIR does not exist)"},
				&cli.BoolFlag{Name: "print-once", Usage: "print the management tokens, only when this run is the first bootstrap"},
			),
			Action: bootstrapACL,
		}},
	}
}

// bootstrapResult is the --json summary; it never carries a token.
type bootstrapResult struct {
	Changed bool               `json:"changed"`
	Changes []bootstrap.Change `json:"changes"`
}

func bootstrapACL(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	out := OutputFromContext(c)
	var fsys fs.FS = policies.FS
	if st, err := os.Stat(c.String("policies")); err == nil && st.IsDir() {
		fsys = os.DirFS(c.String("policies"))
	} else if c.IsSet("policies") {
		return UsageErrorf("--policies %s: not a directory", c.String("policies"))
	}
	apps, err := bootstrapApps(c)
	if err != nil {
		return err
	}
	cfg := ConfigFromContext(c)
	vc, err := clients.Vault(cfg)
	if err != nil {
		return &ExitError{Code: ExitUnreachable, Err: err}
	}
	jwks, err := nomadJWKS(cfg)
	if err != nil {
		return err
	}
	res, err := bootstrap.Run(c.Context, bootstrap.Options{
		Policies: fsys, Vault: vc, Consul: &cfg.Consul, Nomad: &cfg.Nomad, Apps: apps, NomadJWKS: jwks,
	})
	if err != nil {
		code := ExitUnreachable
		if errors.Is(err, bootstrap.ErrNoManagementToken) {
			code = ExitUsage
		}
		return &ExitError{Code: code, Err: err}
	}
	summary := bootstrapResult{Changed: res.Changed(), Changes: res.Changes}
	if out.JSON {
		if err := out.Emit(summary, ""); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(out.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "PRODUCT\tKIND\tNAME\tACTION")
		for _, ch := range res.Changes {
			action := ch.Action
			if ch.Note != "" {
				action += " (" + ch.Note + ")"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ch.Product, ch.Kind, ch.Name, action)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if summary.Changed {
			fmt.Fprintf(out.Stdout, "\nTokens are in Vault KV at %s/%s/<product>/<name>; none was written to disk.\n", bootstrap.KVMount, bootstrap.KVPrefix)
		} else {
			fmt.Fprintln(out.Stdout, "\nNothing changed: the cluster already matches policies/.")
		}
	}
	if c.Bool("print-once") {
		if len(res.BootstrapTokens) == 0 {
			fmt.Fprintln(out.Stderr, "--print-once: nothing to print, this was not the first bootstrap (the management tokens are in Vault KV)")
		}
		products := make([]string, 0, len(res.BootstrapTokens))
		for p := range res.BootstrapTokens {
			products = append(products, p)
		}
		sort.Strings(products)
		for _, p := range products {
			// The one place a token is printed: asked for, on the first
			// bootstrap only, to the terminal of whoever ran it.
			fmt.Fprintf(out.Stdout, "%s management token: %s\n", p, res.BootstrapTokens[p].Reveal())
		}
	}
	return nil
}

// bootstrapApps reads the stack file, when there is one, for the apps that
// get a Consul policy of their own.
func bootstrapApps(c *cli.Context) ([]bootstrap.App, error) {
	if _, err := os.Stat(c.String(flagFile)); errors.Is(err, os.ErrNotExist) && !c.IsSet(flagFile) {
		return nil, nil
	}
	st, err := loadStack(c)
	if err != nil {
		return nil, err
	}
	return stackApps(st), nil
}

// nomadJWKS is where Consul verifies Nomad's task identities: the Nomad
// address hstack uses, with its CA when one is configured.
func nomadJWKS(cfg clients.Config) (*bootstrap.JWKS, error) {
	nc, err := clients.Nomad(cfg)
	if err != nil {
		return nil, &ExitError{Code: ExitUnreachable, Err: err}
	}
	j := &bootstrap.JWKS{URL: strings.TrimRight(nc.Address(), "/") + "/.well-known/jwks.json"}
	ca := cfg.Nomad.TLS.CACert
	if ca == "" {
		ca = os.Getenv("NOMAD_CACERT")
	}
	if ca != "" {
		b, err := os.ReadFile(ca) // #nosec G304 G703 -- the CA file the operator names in NOMAD_CACERT or --nomad-cacert
		if err != nil {
			return nil, UsageErrorf("NOMAD_CACERT: %v", err)
		}
		j.CAPEM = string(b)
	}
	return j, nil
}

// stackApps are the jobs that get a Consul role of their own: each app
// (its database service and KV), the ingress and the monitoring jobs
// (read for discovery).
func stackApps(st *stackfile.Stack) []bootstrap.App {
	apps := []bootstrap.App{{Job: render.IngressName(st), Policy: "ingress"}}
	for _, j := range []string{"prometheus", "alertmanager", "node-exporter", "grafana", "loki", "promtail", "vector"} {
		apps = append(apps, bootstrap.App{Job: j, Policy: "prometheus"})
	}
	for _, a := range st.Apps {
		app := bootstrap.App{Job: a.Name, KVPrefix: appconfig.AppPrefix(st.Name, a.Name)}
		if a.Database != nil {
			app.DatabaseService = a.Database.Name
		}
		apps = append(apps, app)
	}
	return apps
}
