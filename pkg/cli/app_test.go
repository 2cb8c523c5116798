package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// isolateEnv blanks every variable the flags or the API libraries read, so
// a developer's real cluster settings cannot leak into a test.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_REGION", "NOMAD_NAMESPACE", "NOMAD_HTTP_AUTH",
		"NOMAD_CACERT", "NOMAD_CAPATH", "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY",
		"NOMAD_TLS_SERVER_NAME", "NOMAD_SKIP_VERIFY",
		"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_AUTH",
		"CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT", "CONSUL_CAPATH",
		"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME",
		"CONSUL_NAMESPACE", "CONSUL_PARTITION",
		"VAULT_ADDR", "VAULT_AGENT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_HEADERS",
		"VAULT_CACERT", "VAULT_CACERT_BYTES", "VAULT_CAPATH", "VAULT_CLIENT_CERT",
		"VAULT_CLIENT_KEY", "VAULT_TLS_SERVER_NAME", "VAULT_SKIP_VERIFY",
		"VAULT_HTTP_PROXY", "VAULT_PROXY_ADDR", "VAULT_MAX_RETRIES",
		"NO_COLOR",
	} {
		t.Setenv(k, "")
	}
	// A fresh HOME keeps the user's CLI configs out; the built tools stay
	// where they are.
	t.Setenv("HSTACK_CACHE", tools.CacheDir())
	t.Setenv("HOME", t.TempDir())
}

type result struct {
	code           int
	stdout, stderr string
}

func runApp(t *testing.T, extra []*cli.Command, args ...string) result {
	t.Helper()
	app := newApp(extra...)
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	code := run(context.Background(), app, append([]string{"hstack"}, args...))
	return result{code, out.String(), errOut.String()}
}

// probe is a test-only command that hands its context to fn.
func probe(name string, fn func(c *cli.Context) error) *cli.Command {
	return &cli.Command{Name: name, Action: fn}
}

type seen struct {
	path, token string
}

// fakeAgent answers like enough of a Nomad/Consul/Vault agent for one
// request and records where it arrived and with which token header.
func fakeAgent(t *testing.T, tokenHeader string) (*httptest.Server, func() seen) {
	var mu sync.Mutex
	var last seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = seen{r.URL.Path, r.Header.Get(tokenHeader)}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(r.URL.Path, "/v1/secret/") {
			_, _ = io.WriteString(w, `{"data":{}}`)
			return
		}
		_, _ = io.WriteString(w, `"127.0.0.1:4647"`)
	}))
	t.Cleanup(srv.Close)
	return srv, func() seen { mu.Lock(); defer mu.Unlock(); return last }
}

var products = []struct {
	name, addrFlag, tokenFlag, addrEnv, tokenEnv, header, path string
	call                                                       func(clients.Config) error
}{
	{"nomad", "--nomad-addr", "--nomad-token", "NOMAD_ADDR", "NOMAD_TOKEN", "X-Nomad-Token", "/v1/status/leader",
		func(cfg clients.Config) error {
			c, err := clients.Nomad(cfg)
			if err == nil {
				_, err = c.Status().Leader()
			}
			return err
		}},
	{"consul", "--consul-addr", "--consul-token", "CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "X-Consul-Token", "/v1/status/leader",
		func(cfg clients.Config) error {
			c, err := clients.Consul(cfg)
			if err == nil {
				_, err = c.Status().Leader()
			}
			return err
		}},
	{"vault", "--vault-addr", "--vault-token", "VAULT_ADDR", "VAULT_TOKEN", "X-Vault-Token", "/v1/secret/data/app",
		func(cfg clients.Config) error {
			c, err := clients.Vault(cfg)
			if err == nil {
				_, err = c.Logical().Read("secret/data/app")
			}
			return err
		}},
}

func TestEnvAndFlagsReachTheServer(t *testing.T) {
	for _, p := range products {
		t.Run(p.name+"/env", func(t *testing.T) {
			isolateEnv(t)
			srv, last := fakeAgent(t, p.header)
			t.Setenv(p.addrEnv, srv.URL)
			t.Setenv(p.tokenEnv, "env-token")

			cmd := probe("probe", func(c *cli.Context) error { return p.call(ConfigFromContext(c)) })
			if r := runApp(t, []*cli.Command{cmd}, "probe"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := last(); got != (seen{p.path, "env-token"}) {
				t.Errorf("server saw %+v, want path %s with token env-token", got, p.path)
			}
		})
		t.Run(p.name+"/flag beats env", func(t *testing.T) {
			isolateEnv(t)
			srv, last := fakeAgent(t, p.header)
			// Nothing listens on port 1: reaching srv proves the flag won.
			t.Setenv(p.addrEnv, "http://127.0.0.1:1")
			t.Setenv(p.tokenEnv, "env-token")

			cmd := probe("probe", func(c *cli.Context) error { return p.call(ConfigFromContext(c)) })
			r := runApp(t, []*cli.Command{cmd}, p.addrFlag, srv.URL, p.tokenFlag, "flag-token", "probe")
			if r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := last(); got != (seen{p.path, "flag-token"}) {
				t.Errorf("server saw %+v, want path %s with token flag-token", got, p.path)
			}
		})
	}
}

// Every flag must land in the right Config field, whether given on the
// command line or through its env var.
func TestConfigFromContextMapsEveryFlag(t *testing.T) {
	fields := []struct {
		flag, env string
		get       func(clients.Config) string
	}{
		{flagNomadAddr, "NOMAD_ADDR", func(c clients.Config) string { return c.Nomad.Address }},
		{flagNomadToken, "NOMAD_TOKEN", func(c clients.Config) string { return c.Nomad.Token.Reveal() }},
		{flagNomadRegion, "NOMAD_REGION", func(c clients.Config) string { return c.Nomad.Region }},
		{flagNomadNamespace, "NOMAD_NAMESPACE", func(c clients.Config) string { return c.Nomad.Namespace }},
		{flagNomadCACert, "NOMAD_CACERT", func(c clients.Config) string { return c.Nomad.TLS.CACert }},
		{flagNomadClientCert, "NOMAD_CLIENT_CERT", func(c clients.Config) string { return c.Nomad.TLS.ClientCert }},
		{flagNomadClientKey, "NOMAD_CLIENT_KEY", func(c clients.Config) string { return c.Nomad.TLS.ClientKey }},
		{flagConsulAddr, "CONSUL_HTTP_ADDR", func(c clients.Config) string { return c.Consul.Address }},
		{flagConsulToken, "CONSUL_HTTP_TOKEN", func(c clients.Config) string { return c.Consul.Token.Reveal() }},
		{flagConsulCACert, "CONSUL_CACERT", func(c clients.Config) string { return c.Consul.TLS.CACert }},
		{flagConsulClientCert, "CONSUL_CLIENT_CERT", func(c clients.Config) string { return c.Consul.TLS.ClientCert }},
		{flagConsulClientKey, "CONSUL_CLIENT_KEY", func(c clients.Config) string { return c.Consul.TLS.ClientKey }},
		{flagVaultAddr, "VAULT_ADDR", func(c clients.Config) string { return c.Vault.Address }},
		{flagVaultToken, "VAULT_TOKEN", func(c clients.Config) string { return c.Vault.Token.Reveal() }},
		{flagVaultCACert, "VAULT_CACERT", func(c clients.Config) string { return c.Vault.TLS.CACert }},
		{flagVaultClientCert, "VAULT_CLIENT_CERT", func(c clients.Config) string { return c.Vault.TLS.ClientCert }},
		{flagVaultClientKey, "VAULT_CLIENT_KEY", func(c clients.Config) string { return c.Vault.TLS.ClientKey }},
	}
	for _, f := range fields {
		t.Run(f.flag, func(t *testing.T) {
			isolateEnv(t)
			var cfg clients.Config
			cmd := probe("probe", func(c *cli.Context) error { cfg = ConfigFromContext(c); return nil })

			t.Setenv(f.env, "from-env")
			if r := runApp(t, []*cli.Command{cmd}, "probe"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := f.get(cfg); got != "from-env" {
				t.Errorf("with $%s: field = %q, want from-env", f.env, got)
			}

			if r := runApp(t, []*cli.Command{cmd}, "--"+f.flag, "from-flag", "probe"); r.code != 0 {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if got := f.get(cfg); got != "from-flag" {
				t.Errorf("with --%s: field = %q, want from-flag", f.flag, got)
			}
		})
	}
}

func TestHelpNeverShowsTokens(t *testing.T) {
	isolateEnv(t)
	secrets := map[string]string{
		"NOMAD_TOKEN":       "nomad-secret-1f2e",
		"CONSUL_HTTP_TOKEN": "consul-secret-3d4c",
		"VAULT_TOKEN":       "vault-secret-5b6a",
	}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	for _, args := range [][]string{
		{"--help"},
		{"-h"},
		{"help"},
		{},
		{"--nomad-token", "cmdline-secret-7788", "--help"},
	} {
		app := newApp()
		var out, errOut bytes.Buffer
		app.Writer, app.ErrWriter = &out, &errOut
		code := run(context.Background(), app, append([]string{"hstack"}, args...))
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut.String())
		}
		all := out.String() + errOut.String()
		for k, v := range secrets {
			if strings.Contains(all, v) {
				t.Errorf("%v: output shows the value of $%s", args, k)
			}
		}
		if strings.Contains(all, "cmdline-secret-7788") {
			t.Errorf("%v: output shows the token given on the command line", args)
		}
		// The env var names themselves are useful and must stay.
		if !strings.Contains(out.String(), "$NOMAD_TOKEN") {
			t.Errorf("%v: help lost the $NOMAD_TOKEN hint:\n%s", args, out.String())
		}
	}
}

// Unlike urfave/cli's StringFlag, whose doc generator falls back to the live
// value once the env has been applied, a token flag has no readable value.
func TestTokenFlagHidesValueAfterParsing(t *testing.T) {
	t.Setenv("NOMAD_TOKEN", "nomad-secret-9a8b")
	f := tokenFlag(catNomad, flagNomadToken, "NOMAD_TOKEN", "Nomad ACL `TOKEN`").(*secretFlag)
	set := flag.NewFlagSet("t", flag.ContinueOnError)
	if err := f.Apply(set); err != nil {
		t.Fatal(err)
	}
	if v := set.Lookup(flagNomadToken).Value.String(); v != "nomad-secret-9a8b" {
		t.Fatalf("flag value = %q, the env must still be applied", v)
	}
	for name, s := range map[string]string{"String": f.String(), "GetValue": f.GetValue(), "GetDefaultText": f.GetDefaultText()} {
		if strings.Contains(s, "nomad-secret-9a8b") {
			t.Errorf("%s() = %q leaks the token", name, s)
		}
	}
}

func TestUsageErrorsExit2(t *testing.T) {
	// Fresh commands per run: urfave/cli mutates command trees while
	// running them.
	extra := func() []*cli.Command {
		return []*cli.Command{
			{Name: "grp", Subcommands: []*cli.Command{probe("sub", func(*cli.Context) error { return nil })}},
			{Name: "needs", ArgsUsage: "JOB", Action: func(*cli.Context) error { return nil }},
		}
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--bogus-flag", "version"}, "--bogus-flag"},
		{[]string{"version", "--bogus-flag"}, "--bogus-flag"},
		{[]string{"grp", "sub", "--bogus-flag"}, "--bogus-flag"},
		{[]string{"--json=maybe", "version"}, "--json"},
		{[]string{"--nomad-addr"}, "--nomad-addr"},
		{[]string{"frobnicate"}, "frobnicate"},
		{[]string{"grp", "frobnicate"}, "frobnicate"},
		{[]string{"help", "frobnicate"}, "frobnicate"},
		{[]string{"version", "extra"}, "extra"},
		{[]string{"needs"}, "missing argument JOB"},
		{[]string{"needs", "a", "b"}, `unexpected argument "b"`},
		{[]string{"needs", "a", "--bogus-flag"}, "unknown flag --bogus-flag"},
		{[]string{"needs", "a", "-x"}, "unknown flag -x"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			isolateEnv(t)
			r := runApp(t, extra(), tc.args...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d", r.code, ExitUsage)
			}
			if !strings.HasPrefix(r.stderr, "hstack: ") || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr = %q, want 'hstack: ...%s...'", r.stderr, tc.want)
			}
			if r.stdout != "" {
				t.Errorf("usage error also wrote to stdout: %q", r.stdout)
			}
		})
	}
}

func TestOtherErrorsExitCodes(t *testing.T) {
	extra := func() []*cli.Command {
		return []*cli.Command{
			probe("fail", func(*cli.Context) error { return errors.New("boom") }),
			probe("exit3", func(*cli.Context) error { return cli.Exit("custom", 3) }),
			probe("wrapped", func(*cli.Context) error {
				return &ExitError{Code: 4, Err: errors.New("four")}
			}),
			probe("ok", func(*cli.Context) error { return nil }),
		}
	}
	for _, tc := range []struct {
		cmd    string
		code   int
		stderr string
	}{
		{"fail", ExitFailure, "hstack: boom\n"},
		{"exit3", 3, "hstack: custom\n"},
		{"wrapped", 4, "hstack: four\n"},
		{"ok", ExitOK, ""},
	} {
		isolateEnv(t)
		r := runApp(t, extra(), tc.cmd)
		if r.code != tc.code || r.stderr != tc.stderr {
			t.Errorf("%s: got exit %d stderr %q, want %d %q", tc.cmd, r.code, r.stderr, tc.code, tc.stderr)
		}
	}
}

func TestVersionJSON(t *testing.T) {
	for _, args := range [][]string{{"--json", "version"}, {"version", "--json"}} {
		isolateEnv(t)
		r := runApp(t, nil, args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
		lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(lines) != 1 {
			t.Fatalf("%v: want exactly one JSON line, got %q", args, r.stdout)
		}
		var v map[string]string
		if err := json.Unmarshal([]byte(lines[0]), &v); err != nil {
			t.Fatalf("%v: invalid JSON %q: %v", args, lines[0], err)
		}
		for _, k := range []string{"version", "commit", "go_version", "platform"} {
			if v[k] == "" {
				t.Errorf("%v: field %q missing in %s", args, k, lines[0])
			}
		}
	}
}

func TestVersionText(t *testing.T) {
	isolateEnv(t)
	r := runApp(t, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "hstack dev (commit ") {
		t.Errorf("exit %d stdout %q", r.code, r.stdout)
	}
}

func TestDevCommandRegistered(t *testing.T) {
	if App().Command("dev") == nil {
		t.Fatal("dev command missing")
	}
}

func TestOutputFlags(t *testing.T) {
	for _, tc := range []struct {
		args           []string
		noColorEnv     string
		wantJSON, want bool // want = no-color requested by flag
	}{
		{[]string{"probe"}, "", false, false},
		{[]string{"--json", "probe"}, "", true, false},
		{[]string{"probe", "--json"}, "", true, false},
		{[]string{"--no-color", "probe"}, "", false, true},
		{[]string{"probe", "--no-color"}, "", false, true},
	} {
		isolateEnv(t)
		var out *Output
		var noColor bool
		cmd := probe("probe", func(c *cli.Context) error {
			out, noColor = OutputFromContext(c), anyBool(c, flagNoColor)
			return nil
		})
		if r := runApp(t, []*cli.Command{cmd}, tc.args...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		if out.JSON != tc.wantJSON || noColor != tc.want {
			t.Errorf("%v: JSON=%v no-color=%v, want %v %v", tc.args, out.JSON, noColor, tc.wantJSON, tc.want)
		}
		if out.TTY || out.Color {
			t.Errorf("%v: a bytes.Buffer must not count as a terminal", tc.args)
		}
	}
}

func TestColorEnabled(t *testing.T) {
	env := func(kv ...string) func(string) string {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return func(k string) string { return m[k] }
	}
	for _, tc := range []struct {
		name                   string
		tty, jsonMode, noColor bool
		getenv                 func(string) string
		want                   bool
	}{
		{"terminal", true, false, false, env(), true},
		{"pipe", false, false, false, env(), false},
		{"json", true, true, false, env(), false},
		{"--no-color", true, false, true, env(), false},
		{"NO_COLOR any value", true, false, false, env("NO_COLOR", "yes"), false},
		{"dumb terminal", true, false, false, env("TERM", "dumb"), false},
	} {
		if got := colorEnabled(tc.tty, tc.jsonMode, tc.noColor, tc.getenv); got != tc.want {
			t.Errorf("%s: colorEnabled = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestOutputWriters(t *testing.T) {
	var stdout, stderr bytes.Buffer
	o := &Output{JSON: true, Stdout: &stdout, Stderr: &stderr}
	o.Linef("starting %s", "nomad")
	if err := o.Emit(map[string]string{"addr": "http://127.0.0.1:4646/<x>"}, "ignored"); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "{\"addr\":\"http://127.0.0.1:4646/<x>\"}\n" {
		t.Errorf("JSON stdout = %q", stdout.String())
	}
	if stderr.String() != "starting nomad\n" {
		t.Errorf("JSON mode must move human lines to stderr, got %q", stderr.String())
	}

	stdout.Reset()
	o = &Output{Stdout: &stdout, Stderr: &stderr}
	if err := o.Emit(struct{}{}, "%s is %s", "nomad", o.Green("up")); err != nil {
		t.Fatal(err)
	}
	if stdout.String() != "nomad is up\n" {
		t.Errorf("text stdout = %q (styling must be off without Color)", stdout.String())
	}
	if (&Output{Color: true}).Red("x") == "x" {
		t.Error("Color=true must style")
	}
}
