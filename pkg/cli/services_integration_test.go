package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/catalog"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// servicesStack is a one-app stack on the dev stack: pingapp (raw_exec)
// with credentials from Vault for the dev PostgreSQL, which is also
// declared as an external service, and a config map.
func servicesStack(pingapp string, pgPort int, greeting string, withDB bool) string {
	db, appDB := "", ""
	if withDB {
		db = fmt.Sprintf(`
database "main" {
  address = "127.0.0.1"
  port    = %d
  role "pingapp" {
    privilege = "readwrite"
  }
}
`, pgPort)
		appDB = `
  database {
    name = "main"
    role = "pingapp"
  }`
	}
	return fmt.Sprintf(`stack "shop" {}
%s
app "pingapp" {
  driver  = "raw_exec"
  command = %q
  args    = ["-listen", "$${NOMAD_ADDR_http}", "-drain", "1s"]
  port "http" {}
  tags = ["web"]
  config = {
    greeting = %q
  }
  health {
    path     = "/readyz"
    interval = "2s"
    timeout  = "1s"
  }
  shutdown_delay = "1s"
  kill_timeout   = "5s"
%s
  rollout {
    strategy          = "canary"
    canary            = 1
    min_healthy_time  = "1s"
    healthy_deadline  = "1m"
    progress_deadline = "2m"
  }
}
`, db, pingapp, greeting, appDB)
}

// TestServicesEndToEnd drives `hstack services`, `services sync`, plan,
// deploy and abort against a real dev stack running pingapp: the database
// is registered in Consul with a passing check and goes when the stack
// file drops it; config reaches the running task through KV; a config
// change is a new job version that canaries get while the stable
// allocation keeps its config, also after an abort; versions nothing can
// roll back to are deleted.
func TestServicesEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	pingapp := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	isolateStackEnv(t)
	t.Setenv("NOMAD_ADDR", s.NomadAddr())
	t.Setenv("CONSUL_HTTP_ADDR", s.ConsulAddr())
	t.Setenv("VAULT_ADDR", s.VaultAddr())
	nc, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	stackFile := filepath.Join(t.TempDir(), "hstack.hcl")
	setStack := func(greeting string, withDB bool) {
		t.Helper()
		if err := os.WriteFile(stackFile, []byte(servicesStack(pingapp, s.Ports.Postgres, greeting, withDB)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hstack := func(wantCode int, args ...string) result {
		t.Helper()
		start := time.Now()
		r := runApp(t, nil, args...)
		t.Logf("hstack %s -> exit %d after %v\n%s%s", strings.Join(args, " "), r.code, time.Since(start).Round(100*time.Millisecond), r.stdout, r.stderr)
		if r.code != wantCode {
			t.Fatalf("hstack %s: exit %d, want %d", strings.Join(args, " "), r.code, wantCode)
		}
		return r
	}
	v1 := appconfig.Checksum(map[string]string{"greeting": "hi"})
	v2 := appconfig.Checksum(map[string]string{"greeting": "hello"})

	setStack("hi", true)
	t.Run("sync registers the database and writes config, once", func(t *testing.T) {
		r := hstack(ExitOK, "services", "sync", "-f", stackFile)
		for _, want := range []string{
			fmt.Sprintf("registered service main (127.0.0.1:%d)\n", s.Ports.Postgres),
			"config pingapp: written greeting in version " + v1 + "\n",
		} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("sync output lacks %q", want)
			}
		}
		if r := hstack(ExitOK, "services", "sync", "-f", stackFile); r.stdout != "" {
			t.Errorf("a second sync changed something:\n%s", r.stdout)
		}
		devstacktest.Eventually(t, time.Minute, "main passing in Consul", func() error {
			entries, _, err := cc.Health().Service("main", "", true, nil)
			if err != nil || len(entries) != 1 {
				return fmt.Errorf("%d passing instances of main, %v", len(entries), err)
			}
			return nil
		})
	})

	hstack(ExitOK, "deploy", "-f", stackFile, "pingapp")
	stable := runningAllocs(t, nc)
	if len(stable) != 1 {
		t.Fatalf("%d running allocations after the first deploy, want 1", len(stable))
	}

	t.Run("config rendered into the running task", func(t *testing.T) {
		if got := configFile(t, nc, stable[0]); got != `{"greeting":"hi"}` {
			t.Errorf("config.json = %s", got)
		}
	})

	t.Run("a hand edit of KV restarts nothing, and sync undoes it", func(t *testing.T) {
		key := appconfig.VersionPrefix("shop", "pingapp", v1) + "greeting"
		if _, err := cc.KV().Put(&consulapi.KVPair{Key: key, Value: []byte("tampered")}, nil); err != nil {
			t.Fatal(err)
		}
		// The template watches its keys, so the file follows (documented);
		// change_mode noop means the task is neither restarted nor
		// signalled.
		devstacktest.Eventually(t, 30*time.Second, "file re-rendered", func() error {
			if got := configFile(t, nc, stable[0]); got != `{"greeting":"tampered"}` {
				return fmt.Errorf("config.json = %s", got)
			}
			return nil
		})
		if ids := runningAllocs(t, nc); !slices.Equal(ids, stable) {
			t.Errorf("running allocations %v, want the same %v", ids, stable)
		}
		alloc, _, err := nc.Allocations().Info(stable[0], nil)
		if err != nil {
			t.Fatal(err)
		}
		ts := alloc.TaskStates["pingapp"]
		for _, ev := range ts.Events {
			if ev.Type == nomadapi.TaskSignaling || ev.Type == nomadapi.TaskRestarting {
				t.Errorf("task event %s after a KV edit: %s", ev.Type, ev.DisplayMessage)
			}
		}
		if ts.Restarts != 0 {
			t.Errorf("task restarted %d times", ts.Restarts)
		}
		r := hstack(ExitOK, "services", "sync", "-f", stackFile)
		if !strings.Contains(r.stdout, "config pingapp: written greeting in version "+v1+"\n") {
			t.Errorf("sync did not restore the declared value")
		}
		devstacktest.Eventually(t, 30*time.Second, "file restored", func() error {
			if got := configFile(t, nc, stable[0]); got != `{"greeting":"hi"}` {
				return fmt.Errorf("config.json = %s", got)
			}
			return nil
		})
	})

	t.Run("services lists pingapp and the database", func(t *testing.T) {
		devstacktest.Eventually(t, time.Minute, "pingapp passing", func() error {
			return passing(cc, "pingapp")
		})
		r := hstack(ExitOK, "services")
		rows := regexp.MustCompile(`(?m)^(\S+)\s+(.+?)\s{2,}(\S+)\s+(\S+)\s+(\S+)\s+(\S*)$`).FindAllStringSubmatch(r.stdout, -1)
		got := map[string][]string{}
		for _, row := range rows {
			got[row[1]] = row[2:]
		}
		if h := got["SERVICE"]; !slices.Equal(h, []string{"INSTANCE", "NODE", "ADDRESS", "HEALTH", "TAGS"}) {
			t.Errorf("header: %v", h)
		}
		if p := got["pingapp"]; len(p) != 5 || p[0] != "alloc "+stable[0][:8] || p[1] != "hstack-dev" || p[3] != "passing" || p[4] != "web" {
			t.Errorf("pingapp row: %q", p)
		}
		if m := got["main"]; len(m) != 5 || m[0] != "external" || m[2] != fmt.Sprintf("127.0.0.1:%d", s.Ports.Postgres) || m[3] != "passing" || m[4] != "postgresql,writer" {
			t.Errorf("main row: %q", m)
		}

		insts := servicesJSON(t, hstack(ExitOK, "services", "--json", "pingapp", "main"))
		if len(insts) != 2 {
			t.Fatalf("services --json pingapp main: %d instances", len(insts))
		}
		db, app := insts[0], insts[1]
		if db.Service != "main" || !db.External || db.Health != "passing" || db.Port != s.Ports.Postgres || db.Node != "hstack-dev" {
			t.Errorf("main: %+v", db)
		}
		if app.Service != "pingapp" || app.External || app.Canary || app.AllocID != stable[0] || app.Health != "passing" || len(app.Checks) < 2 {
			t.Errorf("pingapp: %+v", app)
		}
	})

	setStack("hello", true)
	t.Run("a config change is a new job version, not a silent edit", func(t *testing.T) {
		r := hstack(ExitFailure, "plan", "-f", stackFile)
		for _, want := range []string{"~ pingapp (app): update", `Meta[hstack_config]: "` + v1 + `" => "` + v2 + `"`} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("plan lacks %q", want)
			}
		}
		var p jobPlan
		if err := json.Unmarshal([]byte(hstack(ExitFailure, "plan", "--json", "-f", stackFile).stdout), &p); err != nil {
			t.Fatal(err)
		}
		if p.Change != "update" || !p.Destructive || p.Groups[0].Canary != 1 {
			t.Errorf("plan --json: %+v; want an update that starts a canary", p)
		}

		// The new version's keys go in next to the old ones; the running
		// allocation and its job are untouched.
		hstack(ExitOK, "services", "sync", "-f", stackFile)
		if vs, _ := appconfig.Versions(context.Background(), cc, "shop", "pingapp"); !slices.Equal(vs, sorted(v1, v2)) {
			t.Errorf("versions in KV: %v, want %v", vs, sorted(v1, v2))
		}
		// Longer than a re-render takes (the template's 5s minimum wait,
		// as the hand-edit test above measures), had the stable
		// allocation read anything sync changed.
		time.Sleep(7 * time.Second)
		if got := configFile(t, nc, stable[0]); got != `{"greeting":"hi"}` {
			t.Errorf("the running allocation's config changed without a release: %s", got)
		}
		if job, _, err := nc.Jobs().Info("pingapp", nil); err != nil || *job.Version != 0 {
			t.Errorf("job version after sync: %v, %v", job.Version, err)
		}
	})

	t.Run("canary reads the new config, stable keeps its own, also after abort", func(t *testing.T) {
		hstack(ExitWaiting, "deploy", "-f", stackFile, "--detach", "--auto-promote=false", "pingapp")
		var canary string
		for _, id := range runningAllocs(t, nc) {
			if id != stable[0] {
				canary = id
			}
		}
		if canary == "" {
			t.Fatal("no canary allocation")
		}
		if got := configFile(t, nc, canary); got != `{"greeting":"hello"}` {
			t.Errorf("canary config.json = %s", got)
		}
		if got := configFile(t, nc, stable[0]); got != `{"greeting":"hi"}` {
			t.Errorf("stable config.json during the canary = %s", got)
		}
		devstacktest.Eventually(t, time.Minute, "canary marked in services", func() error {
			r := runApp(t, nil, "services", "--json", "pingapp")
			for _, in := range servicesJSON(t, r) {
				if in.AllocID == canary && in.Canary && slices.Contains(in.Tags, "canary") {
					return nil
				}
			}
			return fmt.Errorf("no canary instance in %s", r.stdout)
		})
		if r := hstack(ExitOK, "services", "pingapp"); !strings.Contains(r.stdout, "alloc "+canary[:8]+" (canary)") {
			t.Errorf("services does not mark the canary")
		}

		hstack(ExitOK, "abort", "pingapp")
		devstacktest.Eventually(t, time.Minute, "canary stopped", func() error {
			if ids := runningAllocs(t, nc); !slices.Equal(ids, stable) {
				return fmt.Errorf("running: %v, want the stable %v", ids, stable)
			}
			return nil
		})
		if got := configFile(t, nc, stable[0]); got != `{"greeting":"hi"}` {
			t.Errorf("stable config.json after abort = %s", got)
		}
		job, _, err := nc.Jobs().Info("pingapp", nil)
		if err != nil || job.Meta[appconfig.MetaKey] != v1 {
			t.Errorf("job after abort reads config %q (%v), want the stable %s", job.Meta[appconfig.MetaKey], err, v1)
		}
	})

	t.Run("versions nothing can roll back to are deleted", func(t *testing.T) {
		setStack("never deployed", true)
		hstack(ExitOK, "services", "sync", "-f", stackFile)
		v3 := appconfig.Checksum(map[string]string{"greeting": "never deployed"})
		setStack("hi", true)
		r := hstack(ExitOK, "services", "sync", "-f", stackFile)
		if !strings.Contains(r.stdout, "config pingapp: deleted version "+v3+"\n") {
			t.Errorf("sync did not delete the undeployed version %s", v3)
		}
		// v2 stays: the failed job version still names it.
		if vs, _ := appconfig.Versions(context.Background(), cc, "shop", "pingapp"); !slices.Equal(vs, sorted(v1, v2)) {
			t.Errorf("versions in KV: %v, want %v", vs, sorted(v1, v2))
		}
	})

	t.Run("a database dropped from the stack file leaves Consul", func(t *testing.T) {
		setStack("hi", false)
		r := hstack(ExitOK, "services", "sync", "-f", stackFile)
		if !strings.Contains(r.stdout, "deregistered service main\n") {
			t.Errorf("sync output lacks the deregistration")
		}
		if insts := servicesJSON(t, hstack(ExitOK, "services", "--json", "main")); len(insts) != 0 {
			t.Errorf("main still listed: %+v", insts)
		}
		all, _, err := cc.Catalog().Services(nil)
		if _, ok := all["main"]; ok || err != nil {
			t.Errorf("main still in the catalog: %v, %v", all, err)
		}
		if _, ok := all["pingapp"]; !ok {
			t.Errorf("sync removed a service Nomad registered: %v", all)
		}
	})
}

func sorted(ss ...string) []string {
	out := slices.Clone(ss)
	slices.Sort(out)
	return out
}

func servicesJSON(t *testing.T, r result) []catalog.Instance {
	t.Helper()
	var out []catalog.Instance
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line == "" {
			continue
		}
		var in catalog.Instance
		if err := json.Unmarshal([]byte(line), &in); err != nil {
			t.Fatalf("services --json line %q: %v", line, err)
		}
		out = append(out, in)
	}
	return out
}

func passing(cc *consulapi.Client, name string) error {
	entries, _, err := cc.Health().Service(name, "", true, nil)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("no passing %s", name)
	}
	return nil
}

// runningAllocs returns the IDs of pingapp's running allocations, sorted.
func runningAllocs(t *testing.T, nc *nomadapi.Client) []string {
	t.Helper()
	stubs, _, err := nc.Jobs().Allocations("pingapp", false, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range stubs {
		if a.ClientStatus == nomadapi.AllocClientStatusRunning && a.DesiredStatus == nomadapi.AllocDesiredStatusRun {
			ids = append(ids, a.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

// configFile reads the task's rendered config through Nomad's alloc fs API,
// compacted.
func configFile(t *testing.T, nc *nomadapi.Client, allocID string) string {
	t.Helper()
	alloc, _, err := nc.Allocations().Info(allocID, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := nc.AllocFS().Cat(alloc, "pingapp/local/"+appconfig.File, nil)
	if err != nil {
		t.Fatalf("reading %s of %s: %v", appconfig.File, allocID, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s is not JSON: %v\n%s", appconfig.File, err, b)
	}
	compact, _ := json.Marshal(v)
	return string(compact)
}
