package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/bootstrap"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/render"
)

// TestSecureReleasePath runs the whole release path on `dev up --secure`
// (ACLs default deny, TLS everywhere, gossip encryption, Vault audit log)
// with only the deployer (Nomad), hstack (Consul) and hstack-admin (Vault)
// tokens: render, db setup, services sync, a canary judged by analysis and
// promoted, a failing canary rolled back. The same commands with no token
// or the readonly token exit 3 naming what is missing, and leave nothing
// behind. Everything the run printed and wrote is then searched for every
// secret issued during it.
func TestSecureReleasePath(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a secure dev stack and the monitoring jobs")
	}
	s := devstacktest.Start(t, devstacktest.Secure)
	hook := newHookRecorder(t)
	ex := newExample(t, s,
		edit{regexp.MustCompile(`(?s)\n    smoke_test "ping" \{.*?\n    \}\n`), "\n", "remove the smoke test"},
		edit{regexp.MustCompile(regexp.QuoteMeta("notify           = []")), `notify           = ["ops"]`, "turn on notifications in the dev environment"})
	root, err := s.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	token := func(key string) string {
		tok, err := bootstrap.ReadToken(ctx, root, key)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Secret.Reveal()
	}

	// TLS settings from the stack's environment; tokens chosen per run.
	var tlsEnv []string
	for _, kv := range s.Env() {
		if strings.HasSuffix(kv[0], "_CACERT") || strings.HasSuffix(kv[0], "_CLIENT_CERT") || strings.HasSuffix(kv[0], "_CLIENT_KEY") || kv[0] == "CONSUL_HTTP_SSL" {
			tlsEnv = append(tlsEnv, kv[0]+"="+kv[1])
		}
	}
	base := append(append(append([]string{}, ex.env...), tlsEnv...),
		"CONSUL_HTTP_ADDR=https://"+s.ConsulAddr(), "HSTACK_DEPLOYED_BY=secure-test", "SLACK_WEBHOOK_URL="+hook.url)
	withTokens := func(nomad, consul, vault string) []string {
		return append(append([]string{}, base...), "NOMAD_TOKEN="+nomad, "CONSUL_HTTP_TOKEN="+consul, "VAULT_TOKEN="+vault)
	}
	deployer := withTokens(token("nomad/deployer"), token("consul/hstack"), token("vault/hstack-admin"))
	readonly := withTokens(token("nomad/readonly"), "", "")
	anonymous := withTokens("", "", "")

	leaks := devstacktest.NewLeakCheck()
	var printed int
	run := func(env []string, args ...string) (string, int) {
		t.Helper()
		out, code := runHstack(t, ex.hstack, env, args...)
		leaks.Capture(fmt.Sprintf("output of hstack %s (run %d)", args[0], printed), []byte(out))
		printed++
		return out, code
	}
	common := append(append([]string{}, ex.args...), "--consul-dns-addr", fmt.Sprintf("127.0.0.1:%d", s.Ports.ConsulDNS))
	deploy := func(env []string, version string, extra ...string) (string, int) {
		args := append(append([]string{"deploy"}, common...), "--var", "image_tag="+version)
		return run(env, append(args, extra...)...)
	}
	mgmtNomad, mgmtConsul := adminClients(t, s, token("nomad/bootstrap"), token("consul/bootstrap"))

	t.Run("without the right tokens: exit 3, nothing applied", func(t *testing.T) {
		env := map[string][]string{"no token": anonymous, "readonly": readonly}
		for _, r := range refusals {
			var args []string
			switch r.command {
			case "deploy":
				args = append(append([]string{"deploy"}, common...), "--var", "image_tag=1.0.0", "pingapp")
			default:
				args = append(strings.Fields(r.command), ex.args...)
			}
			out, code := run(env[r.who], args...)
			if code != r.exit || !strings.Contains(out, r.names) {
				t.Errorf("%s: %s exited %d, want %d with %q:\n%s", r.who, r.command, code, r.exit, r.names, out)
			}
		}
		if _, _, err := mgmtNomad.Jobs().Info("pingapp", nil); err == nil {
			t.Error("job pingapp was registered by a refused deploy")
		}
		keys, _, err := mgmtConsul.KV().Keys(appconfig.StackPrefix("shop"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) > 0 {
			t.Errorf("refused deploys wrote KV: %v", keys)
		}
		svcs, err := mgmtConsul.Agent().Services()
		if err != nil {
			t.Fatal(err)
		}
		for id := range svcs {
			if strings.HasPrefix(id, "hstack-") {
				t.Errorf("refused runs registered service %s", id)
			}
		}
	})

	t.Run("TLS settings missing: the error names the variable", func(t *testing.T) {
		drop := func(env []string, names ...string) []string {
			var out []string
			for _, kv := range env {
				keep := true
				for _, n := range names {
					if strings.HasPrefix(kv, n+"=") {
						keep = false
					}
				}
				if keep {
					out = append(out, kv)
				}
			}
			return out
		}
		for _, c := range []struct {
			env  []string
			want string
		}{
			{drop(deployer, "CONSUL_CACERT"), "set CONSUL_CACERT"},
			{drop(deployer, "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY"), "set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY"},
			{append(drop(deployer), "CONSUL_HTTP_ADDR="+s.ConsulAddr(), "CONSUL_HTTP_SSL=false"), "set CONSUL_HTTP_ADDR to https://"},
		} {
			out, code := run(c.env, append([]string{"services", "sync"}, ex.args...)...)
			if code == 0 || !strings.Contains(out, c.want) {
				t.Errorf("services sync exited %d, want an error saying %q:\n%s", code, c.want, out)
			}
		}
	})

	t.Run("release path with deployer and hstack-admin tokens", func(t *testing.T) {
		// The platform team's step: roles for the stack's jobs (each app's
		// database service and KV, the ingress, monitoring), with Vault's
		// root token; Nomad's and Consul's management tokens come from KV.
		admin := withTokens("", "", s.VaultToken())
		if out, code := run(admin, append([]string{"bootstrap", "acl"}, ex.args...)...); code != 0 {
			t.Fatalf("bootstrap acl exited %d:\n%s", code, out)
		}
		rendered := filepath.Join(s.Dir, "rendered")
		if out, code := run(deployer, append(append([]string{"render"}, ex.args...), "-o", rendered)...); code != 0 {
			t.Fatalf("render exited %d:\n%s", code, out)
		}
		leaks.CaptureFiles(t, rendered, nil)
		if out, code := run(deployer, append([]string{"db", "setup"}, ex.args...)...); code != 0 {
			t.Fatalf("db setup exited %d:\n%s", code, out)
		}
		if out, code := run(deployer, append([]string{"services", "sync"}, ex.args...)...); code != 0 {
			t.Fatalf("services sync exited %d:\n%s", code, out)
		}
		if out, code := deploy(deployer, "1.0.0", "--json"); code != 0 {
			t.Fatalf("first deploy exited %d:\n%s", code, out)
		}
		ingress := fmt.Sprintf("http://127.0.0.1:%d/ping", ex.ingressPort)
		waitPing(t, ingress, 2*time.Minute)
		load := startLoad(t, ingress, 20)
		out, code := deploy(deployer, "2.0.0", "--json", "pingapp")
		load.stop()
		if code != 0 {
			t.Fatalf("canary deploy exited %d", code)
		}
		ev := jsonEvents(t, out)
		for _, want := range []string{"event:canaries-healthy", "event:analysis", "event:promoted", "result:succeeded"} {
			if !ev[want] {
				t.Errorf("canary release lacks %s", want)
			}
		}
		load = startLoad(t, ingress, 20)
		out, code = deploy(deployer, "3.0.0", "--var", `extra_env={FAULT_ERROR_RATE="0.5"}`, "pingapp")
		load.stop()
		if code != 1 || !strings.Contains(out, "rolled-back") {
			t.Errorf("failing canary: exit %d, want 1 and a rollback:\n%s", code, out)
		}
		if got := servingVersions(t, s); got["2.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v after the rollback, want only 2.0.0", got)
		}
	})

	t.Run("no secret in anything the run printed or wrote", func(t *testing.T) {
		for what, v := range s.Secrets() {
			leaks.Secret(t, what, v)
		}
		leaks.Secret(t, "webhook URL secret", hookSecret)
		// Every token bootstrap issued.
		for _, product := range []string{"nomad", "consul", "vault"} {
			list, err := root.Logical().List("kv/metadata/" + bootstrap.KVPrefix + "/" + product)
			if err != nil || list == nil {
				t.Fatalf("list tokens of %s: %v", product, err)
			}
			for _, k := range list.Data["keys"].([]any) {
				leaks.Secret(t, product+" token "+k.(string), token(product+"/"+k.(string)))
			}
		}
		// The database passwords Vault generated for the app's tasks.
		allocs, _, err := mgmtNomad.Jobs().Allocations("pingapp", true, nil)
		if err != nil {
			t.Fatal(err)
		}
		pw := regexp.MustCompile(`password=(\S+)`)
		passwords := 0
		for _, a := range allocs {
			b, err := os.ReadFile(filepath.Join(s.AllocDir(a.ID), "pingapp", "secrets", render.DatabaseConnFile))
			if err != nil {
				continue // an allocation that never got its credentials
			}
			if m := pw.FindSubmatch(b); m != nil {
				leaks.Secret(t, "database password of allocation "+a.ID[:8], string(m[1]))
				passwords++
			}
		}
		// Three releases ran, so Vault issued credentials to several
		// allocations: none found means this check proves nothing.
		if passwords == 0 {
			t.Errorf("no generated database password found in %d allocations of pingapp", len(allocs))
		}
		// Logs of the stack (Vault's audit log included) and of every task.
		leaks.CaptureFiles(t, filepath.Join(s.Dir, "logs"), nil)
		leaks.CaptureFiles(t, filepath.Join(s.Dir, devstack.NomadClient, "data", "alloc"), func(rel string) bool {
			return strings.Contains(rel, string(filepath.Separator)+"logs"+string(filepath.Separator))
		})
		hook.mu.Lock()
		leaks.Capture("webhook notifications", []byte(strings.Join(hook.texts, "\n")))
		hook.mu.Unlock()
		leaks.Check(t)
	})
}

// refusals are the release path's commands run without the right tokens,
// and what the refusal must name: the table under "## Denied operations"
// in docs/security.md (TestRefusalsDocumented keeps the two the same).
var refusals = []struct {
	who, command string
	exit         int
	names        string
}{
	{"no token", "deploy", 3, "no token (NOMAD_TOKEN is not set"},
	{"no token", "db setup", 3, "takes the hstack-admin policy"},
	{"no token", "services sync", 3, "lacks permission 'service:write'"},
	{"readonly", "deploy", 3, "it needs capability submit-job"},
	{"readonly", "db setup", 3, "takes the hstack-admin policy"},
	{"readonly", "services sync", 3, "lacks permission 'service:write'"},
}

// TestRefusalsDocumented: docs/security.md lists exactly the refusals
// TestSecureReleasePath checks.
func TestRefusalsDocumented(t *testing.T) {
	var want [][]string
	for _, r := range refusals {
		want = append(want, []string{r.who, "`hstack " + r.command + "`", strconv.Itoa(r.exit), "`" + r.names + "`"})
	}
	devstacktest.SameTable(t, "docs/security.md", "## Denied operations", want)
}

// adminClients are the management-token clients the test checks state
// with (never given to hstack).
func adminClients(t *testing.T, s *devstack.Stack, nomadTok, consulTok string) (*nomadapi.Client, *consulapi.Client) {
	t.Helper()
	cfg := s.ClientConfig()
	cfg.Nomad.Token, cfg.Consul.Token = clients.Secret(nomadTok), clients.Secret(consulTok)
	n, err := clients.Nomad(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c, err := clients.Consul(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n, c
}
