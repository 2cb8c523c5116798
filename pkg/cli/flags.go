package cli

import (
	"slices"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// Global flag names. The env vars bound to them are the products' own, so
// a shell already set up for nomad/consul/vault works unchanged.
const (
	flagNomadAddr       = "nomad-addr"
	flagNomadToken      = "nomad-token"
	flagNomadRegion     = "nomad-region"
	flagNomadNamespace  = "nomad-namespace"
	flagNomadCACert     = "nomad-cacert"
	flagNomadClientCert = "nomad-client-cert"
	flagNomadClientKey  = "nomad-client-key"

	flagConsulAddr       = "consul-addr"
	flagConsulToken      = "consul-token"
	flagConsulCACert     = "consul-cacert"
	flagConsulClientCert = "consul-client-cert"
	flagConsulClientKey  = "consul-client-key"

	flagVaultAddr       = "vault-addr"
	flagVaultToken      = "vault-token"
	flagVaultCACert     = "vault-cacert"
	flagVaultClientCert = "vault-client-cert"
	flagVaultClientKey  = "vault-client-key"

	flagJSON    = "json"
	flagNoColor = "no-color"
)

const (
	catNomad  = "Nomad"
	catConsul = "Consul"
	catVault  = "Vault"
	catOutput = "Output"
)

// secretFlag is a StringFlag that never reveals its value in help or
// generated docs. urfave/cli's StringFlag only hides env-sourced values by
// accident of ordering (it snapshots the default before reading the env),
// and its doc generator falls back to the live value; neither is a
// guarantee worth trusting with ACL tokens.
type secretFlag struct{ *cli.StringFlag }

func (f *secretFlag) GetDefaultText() string { return "" }
func (f *secretFlag) GetValue() string       { return "" }

// String must be redeclared: the promoted one would format the embedded
// StringFlag and bypass the overrides above.
func (f *secretFlag) String() string { return cli.FlagStringer(f) }

func stringFlag(category, name, env, usage string) cli.Flag {
	return &cli.StringFlag{Name: name, EnvVars: []string{env}, Usage: usage, Category: category}
}

func tokenFlag(category, name, env, usage string) cli.Flag {
	return &secretFlag{&cli.StringFlag{Name: name, EnvVars: []string{env}, Usage: usage, Category: category}}
}

// globalFlags returns fresh flag values on every call: urfave/cli flags
// carry parse state, so sharing them between App instances (tests build
// many) would leak values from one run into the next.
func globalFlags() []cli.Flag {
	return []cli.Flag{
		stringFlag(catNomad, flagNomadAddr, "NOMAD_ADDR", "Nomad HTTP API `ADDRESS` (default http://127.0.0.1:4646)"),
		// Prefer the env var for tokens: command-line arguments are visible
		// to other local users via ps.
		tokenFlag(catNomad, flagNomadToken, "NOMAD_TOKEN", "Nomad ACL `TOKEN`"),
		stringFlag(catNomad, flagNomadRegion, "NOMAD_REGION", "Nomad `REGION` to forward requests to"),
		stringFlag(catNomad, flagNomadNamespace, "NOMAD_NAMESPACE", "Nomad `NAMESPACE`"),
		stringFlag(catNomad, flagNomadCACert, "NOMAD_CACERT", "`PATH` to a PEM CA bundle to verify Nomad's certificate"),
		stringFlag(catNomad, flagNomadClientCert, "NOMAD_CLIENT_CERT", "`PATH` to a PEM client certificate for Nomad"),
		stringFlag(catNomad, flagNomadClientKey, "NOMAD_CLIENT_KEY", "`PATH` to the PEM key of the Nomad client certificate"),

		stringFlag(catConsul, flagConsulAddr, "CONSUL_HTTP_ADDR", "Consul HTTP API `ADDRESS` (default 127.0.0.1:8500)"),
		tokenFlag(catConsul, flagConsulToken, "CONSUL_HTTP_TOKEN", "Consul ACL `TOKEN`"),
		stringFlag(catConsul, flagConsulCACert, "CONSUL_CACERT", "`PATH` to a PEM CA bundle to verify Consul's certificate"),
		stringFlag(catConsul, flagConsulClientCert, "CONSUL_CLIENT_CERT", "`PATH` to a PEM client certificate for Consul"),
		stringFlag(catConsul, flagConsulClientKey, "CONSUL_CLIENT_KEY", "`PATH` to the PEM key of the Consul client certificate"),

		stringFlag(catVault, flagVaultAddr, "VAULT_ADDR", "Vault API `ADDRESS` (default https://127.0.0.1:8200)"),
		tokenFlag(catVault, flagVaultToken, "VAULT_TOKEN", "Vault `TOKEN` (falls back to ~/.vault-token)"),
		stringFlag(catVault, flagVaultCACert, "VAULT_CACERT", "`PATH` to a PEM CA bundle to verify Vault's certificate"),
		stringFlag(catVault, flagVaultClientCert, "VAULT_CLIENT_CERT", "`PATH` to a PEM client certificate for Vault"),
		stringFlag(catVault, flagVaultClientKey, "VAULT_CLIENT_KEY", "`PATH` to the PEM key of the Vault client certificate"),

		nomadUIAddrFlag(),

		jsonFlag(),
		noColorFlag(),
	}
}

// The output flags are also attached to every subcommand (see prepare), so
// both `hstack --json dev status` and `hstack dev status --json` work.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagJSON, Category: catOutput, DisableDefaultText: true, Usage: "print one JSON object per line instead of text"}
}

// NO_COLOR is deliberately not bound via EnvVars: the no-color.org
// convention is "any non-empty value", which a BoolFlag would reject for
// values like NO_COLOR=yes. OutputFromContext checks it instead.
func noColorFlag() cli.Flag {
	return &cli.BoolFlag{Name: flagNoColor, Category: catOutput, DisableDefaultText: true, Usage: "disable colored output (also when NO_COLOR is set)"}
}

// ConfigFromContext collects the connection flags into a clients.Config.
// Values read by urfave/cli from the env are the same variables the API
// libraries read themselves, so passing them through changes nothing; only
// a flag given on the command line actually overrides the environment.
func ConfigFromContext(c *cli.Context) clients.Config {
	return clients.Config{
		Nomad: clients.NomadConfig{
			Address:   c.String(flagNomadAddr),
			Token:     clients.Secret(c.String(flagNomadToken)),
			Region:    c.String(flagNomadRegion),
			Namespace: c.String(flagNomadNamespace),
			TLS: clients.TLSConfig{
				CACert:     c.String(flagNomadCACert),
				ClientCert: c.String(flagNomadClientCert),
				ClientKey:  c.String(flagNomadClientKey),
			},
		},
		Consul: clients.ConsulConfig{
			Address: c.String(flagConsulAddr),
			Token:   clients.Secret(c.String(flagConsulToken)),
			TLS: clients.TLSConfig{
				CACert:     c.String(flagConsulCACert),
				ClientCert: c.String(flagConsulClientCert),
				ClientKey:  c.String(flagConsulClientKey),
			},
		},
		Vault: clients.VaultConfig{
			Address: c.String(flagVaultAddr),
			Token:   clients.Secret(c.String(flagVaultToken)),
			TLS: clients.TLSConfig{
				CACert:     c.String(flagVaultCACert),
				ClientCert: c.String(flagVaultClientCert),
				ClientKey:  c.String(flagVaultClientKey),
			},
		},
	}
}

// nomadClient and consulClient open the API clients a command needs. A
// client that cannot even be built (a malformed address, an unreadable CA
// file) means the cluster cannot be reached as configured: exit 3.
func nomadClient(c *cli.Context) (*nomadapi.Client, error) {
	nc, err := clients.Nomad(ConfigFromContext(c))
	if err != nil {
		return nil, &ExitError{Code: ExitUnreachable, Err: err}
	}
	return nc, nil
}

func consulClient(c *cli.Context) (*consulapi.Client, error) {
	cc, err := clients.Consul(ConfigFromContext(c))
	if err != nil {
		return nil, &ExitError{Code: ExitUnreachable, Err: err}
	}
	return cc, nil
}

// reorderArgs moves every flag to the command it belongs to, so users can
// type flags after the positional arguments (`hstack status pingapp --env
// dev`, `hstack deploy APP --json`). urfave/cli v2 stops reading a
// command's flags at its first argument and would take `--env` and `dev`
// for names. A flag is placed at the innermost command on the line that
// defines it (a global flag such as --nomad-addr given after the command
// goes back before it); a flag nobody defines stays with the innermost
// command, whose parser then refuses it as an unknown flag (exit 2). A
// value flag's value travels with it; `--` ends the flags, and the
// arguments after it are passed on behind a `--` of their own.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) == 0 {
		return args
	}
	type level struct {
		name  string // empty for the app
		flags []cli.Flag
		subs  []*cli.Command
		given []string // the flags placed here, values included
	}
	levels := []*level{{flags: app.Flags, subs: app.Commands}}
	var positional []string
	terminated := false
	rest := args[1:]
	for i := 0; i < len(rest); i++ {
		tok := rest[i]
		cur := levels[len(levels)-1]
		switch {
		case tok == "--":
			terminated = true
			positional = append(positional, rest[i+1:]...)
			i = len(rest)
		case len(tok) > 1 && tok[0] == '-':
			name, _, hasValue := strings.Cut(strings.TrimLeft(tok, "-"), "=")
			owner := cur
			var f cli.Flag
			for j := len(levels) - 1; j >= 0; j-- {
				if f = lookupFlag(levels[j].flags, name); f != nil {
					owner = levels[j]
					break
				}
			}
			owner.given = append(owner.given, tok)
			if f != nil && !hasValue && takesValue(f) && i+1 < len(rest) {
				i++
				owner.given = append(owner.given, rest[i])
			}
		case len(positional) == 0 && findCommand(cur.subs, tok) != nil:
			sub := findCommand(cur.subs, tok)
			levels = append(levels, &level{name: tok, flags: sub.Flags, subs: sub.Subcommands})
		case len(positional) == 0 && len(cur.subs) > 0 && tok == "help":
			// urfave/cli grafts its help command in only when the app
			// runs; what follows is a topic, not flags to place.
			positional = append(positional, rest[i:]...)
			i = len(rest)
		default:
			positional = append(positional, tok)
		}
	}
	out := []string{args[0]}
	for _, l := range levels {
		if l.name != "" {
			out = append(out, l.name)
		}
		out = append(out, l.given...)
	}
	if terminated {
		out = append(out, "--")
	}
	return append(out, positional...)
}

func lookupFlag(flags []cli.Flag, name string) cli.Flag {
	for _, f := range flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	// urfave/cli adds --help/-h to every command when the app runs.
	if name == "help" || name == "h" {
		return cli.HelpFlag
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if v, ok := f.(interface{ TakesValue() bool }); ok {
		return v.TakesValue()
	}
	return true
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.Name == name || slices.Contains(c.Aliases, name) {
			return c
		}
	}
	return nil
}
