package render

import (
	"fmt"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/google/go-cmp/cmp"
	nomadapi "github.com/hashicorp/nomad/api"
)

// webApp is a stack with one app whose rollout block is given.
func webApp(rollout string, count int, extra string) string {
	return fmt.Sprintf(`
stack "shop" {}
app "web" {
  image = "ghcr.io/example/web:2.1.0"
  count = %d
  port "http" {
    to = 8080
  }
  health {
    path = "/readyz"
  }
  rollout {
%s
  }
%s
}
`, count, rollout, extra)
}

func TestUpdateStrategy(t *testing.T) {
	base := nomadapi.UpdateStrategy{
		MaxParallel:      ptr(1),
		HealthCheck:      ptr("checks"),
		MinHealthyTime:   ptr(10 * time.Second),
		HealthyDeadline:  ptr(5 * time.Minute),
		ProgressDeadline: ptr(10 * time.Minute),
		AutoRevert:       ptr(true),
		AutoPromote:      ptr(false),
		Canary:           ptr(0),
	}
	with := func(f func(u *nomadapi.UpdateStrategy)) *nomadapi.UpdateStrategy {
		u := base
		f(&u)
		return &u
	}
	tests := []struct {
		name    string
		rollout string
		count   int
		extra   string
		want    *nomadapi.UpdateStrategy
	}{
		{"rolling defaults", ``, 4, "", &base},
		{"rolling", `max_parallel = 2
    min_healthy_time = "30s"
    healthy_deadline = "2m"
    progress_deadline = "6m"
    auto_revert = false`, 4, "", with(func(u *nomadapi.UpdateStrategy) {
			u.MaxParallel, u.MinHealthyTime, u.HealthyDeadline = ptr(2), ptr(30*time.Second), ptr(2*time.Minute)
			u.ProgressDeadline, u.AutoRevert = ptr(6*time.Minute), ptr(false)
		})},
		{"canary", `strategy = "canary"
    canary = 2`, 4, "", with(func(u *nomadapi.UpdateStrategy) { u.Canary = ptr(2) })},
		{"canary auto-promoted by nomad", `strategy = "canary"
    auto_promote = true`, 4, "", with(func(u *nomadapi.UpdateStrategy) { u.Canary, u.AutoPromote = ptr(1), ptr(true) })},
		// With steps, hstack measures before promoting: Nomad must not
		// promote first.
		{"canary with steps promoted by hstack", `strategy = "canary"
    auto_promote = true
    step {
      canary = 2
    }`, 4, "", with(func(u *nomadapi.UpdateStrategy) { u.Canary = ptr(1) })},
		{"canary with smoke test promoted by hstack", `strategy = "canary"
    auto_promote = true
    smoke_test "ping" {
      path = "/ping"
    }`, 4, "", with(func(u *nomadapi.UpdateStrategy) { u.Canary = ptr(1) })},
		{"blue-green", `strategy = "blue-green"`, 4, "", with(func(u *nomadapi.UpdateStrategy) { u.Canary, u.MaxParallel = ptr(4), ptr(4) })},
		{"blue-green auto-promoted", `strategy = "blue-green"
    auto_promote = true`, 3, "", with(func(u *nomadapi.UpdateStrategy) {
			u.Canary, u.MaxParallel, u.AutoPromote = ptr(3), ptr(3), ptr(true)
		})},
		// Nomad rejects auto_promote without canaries.
		{"rolling ignores auto_promote", `auto_promote = true`, 2, "", &base},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := parseStack(t, webApp(tt.rollout, tt.count, tt.extra))
			jobs := mustRender(t, st, Options{})
			got := jobs[0].Job.TaskGroups[0].Update
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("update (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateWithoutHealthCheckWaitsForTaskStates(t *testing.T) {
	st := parseStack(t, `
stack "shop" {}
app "web" {
  image = "x:1"
  port "http" {}
}
`)
	tg := mustRender(t, st, Options{})[0].Job.TaskGroups[0]
	if got := *tg.Update.HealthCheck; got != "task_states" {
		t.Errorf("health_check = %q, want task_states", got)
	}
	if len(tg.Services[0].Checks) != 0 {
		t.Errorf("checks = %v, want none", tg.Services[0].Checks)
	}
}

func TestCanaryServiceIsDistinguishable(t *testing.T) {
	st := parseStack(t, webApp(`strategy = "canary"`, 3, `tags = ["web"]
  meta = { team = "a" }`))
	jobs := mustRender(t, st, Options{Version: "2.1.0-rc1", Commit: "abc1234"})
	svc := jobs[0].Job.TaskGroups[0].Services[0]
	if diff := cmp.Diff([]string{"web", "canary"}, svc.CanaryTags); diff != "" {
		t.Errorf("canary_tags (-want +got):\n%s", diff)
	}
	wantMeta := map[string]string{"team": "a", "version": "2.1.0-rc1", "commit": "abc1234"}
	if diff := cmp.Diff(wantMeta, svc.Meta); diff != "" {
		t.Errorf("meta (-want +got):\n%s", diff)
	}
	wantMeta["canary"] = "true"
	if diff := cmp.Diff(wantMeta, svc.CanaryMeta); diff != "" {
		t.Errorf("canary_meta (-want +got):\n%s", diff)
	}
	jm := jobs[0].Job.Meta
	if jm["hstack_strategy"] != "canary" || jm["hstack_version"] == "" || jm["hstack_stack"] != "shop" || jm["commit"] != "abc1234" {
		t.Errorf("job meta = %v", jm)
	}
}

func TestVersionSources(t *testing.T) {
	tests := []struct {
		meta, image string
		opts        Options
		want        string
	}{
		{`{ version = "3" }`, "x:1", Options{Version: "2"}, "3"},
		{`{}`, "x:1", Options{Version: "2"}, "2"},
		{`{}`, "registry:5000/x:1.2", Options{}, "1.2"},
		{`{}`, "registry:5000/x", Options{}, ""},
		{`{}`, "x@sha256:abcd", Options{}, ""},
	}
	for _, tt := range tests {
		st := parseStack(t, fmt.Sprintf(`
stack "s" {}
app "web" {
  image = %q
  meta  = %s
  port "http" {}
}
`, tt.image, tt.meta))
		j := mustRender(t, st, tt.opts)[0].Job
		if got := j.Meta["version"]; got != tt.want {
			t.Errorf("image %s, meta %s, %+v: version %q, want %q", tt.image, tt.meta, tt.opts, got, tt.want)
		}
		if _, ok := j.Meta["commit"]; ok {
			t.Errorf("commit in meta although unknown: %v", j.Meta)
		}
	}
}

func TestDatabaseCredentialsFromVault(t *testing.T) {
	for _, tt := range []struct {
		env, data string
		uid       bool
	}{
		{"dev", `{{ with secret "database/creds/pingapp" }}host=127.0.0.1 port=5432 dbname=postgres user={{ .Data.username }} password={{ .Data.password }} sslmode=disable{{ end }}` + "\n", false},
		// prod's database comes from Terraform outputs: host and port are
		// read from the Consul service hstack registers for it.
		{"prod", `{{ with secret "database/creds/pingapp" }}{{ $c := . }}{{ with service "main" }}{{ with index . 0 }}` +
			`host={{ .Address }} port={{ .Port }} dbname=postgres user={{ $c.Data.username }} password={{ $c.Data.password }} sslmode=require` +
			`{{ end }}{{ else }}{{ if key "hstack/shop/pingapp/await-service/main" }}{{ end }}{{ end }}{{ end }}` + "\n", true},
	} {
		t.Run(tt.env, func(t *testing.T) {
			task := jobNamed(t, mustRender(t, loadExample(t, tt.env), Options{}), "pingapp").Job.TaskGroups[0].Tasks[0]
			want := &nomadapi.Template{
				EmbeddedTmpl: ptr(tt.data),
				DestPath:     ptr("secrets/database.conn"),
				Perms:        ptr("0600"),
				ChangeMode:   ptr("signal"),
				ChangeSignal: ptr("SIGHUP"),
			}
			if tt.uid {
				want.Uid, want.Gid = ptr(65534), ptr(65534)
			}
			// The example's pingapp also has config, whose template
			// TestConfigTemplate covers.
			var got []*nomadapi.Template
			for _, tp := range task.Templates {
				if *tp.DestPath != "local/config.json" {
					got = append(got, tp)
				}
			}
			if diff := cmp.Diff([]*nomadapi.Template{want}, got); diff != "" {
				t.Errorf("templates (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(&nomadapi.Vault{ChangeMode: ptr("noop"), Env: ptr(false)}, task.Vault); diff != "" {
				t.Errorf("vault (-want +got):\n%s", diff)
			}
			if got := task.Env["DATABASE_URL_FILE"]; got != "${NOMAD_SECRETS_DIR}/database.conn" {
				t.Errorf("DATABASE_URL_FILE = %q", got)
			}
		})
	}
}

// ctService is what consul-template's service function returns, as much
// of it as the database template reads.
type ctService struct {
	Address string
	Port    int
}

// executeDatabaseTemplate runs data as consul-template would with the
// given passing instances of every service, and reports the output and
// the KV keys read (consul-template's key blocks rendering while a key it
// reads does not exist).
func executeDatabaseTemplate(t *testing.T, data string, instances []ctService) (out string, keys []string) {
	t.Helper()
	tmpl, err := template.New("db").Funcs(template.FuncMap{
		"secret": func(path string) (any, error) {
			if path != "database/creds/pingapp" {
				return nil, fmt.Errorf("secret %q read", path)
			}
			return struct{ Data map[string]any }{map[string]any{"username": "v-pingapp-x", "password": "s3cret"}}, nil
		},
		"service": func(name string) ([]ctService, error) {
			if name != "main" {
				return nil, fmt.Errorf("service %q read, want the database's, main", name)
			}
			return instances, nil
		},
		"key": func(k string) string { keys = append(keys, k); return "" },
	}).Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	return b.String(), keys
}

// TestDatabaseFromTerraformUsesCatalog: the prod app connects where
// hstack registered the Terraform-built database in Consul, port included
// (pkg/catalog registers the port from Terraform's outputs), in one line
// however many instances there are, and waits while there are none.
func TestDatabaseFromTerraformUsesCatalog(t *testing.T) {
	task := jobNamed(t, mustRender(t, loadExample(t, "prod"), Options{}), "pingapp").Job.TaskGroups[0].Tasks[0]
	var data string
	for _, tp := range task.Templates {
		if *tp.DestPath == "secrets/database.conn" {
			data = *tp.EmbeddedTmpl
		}
	}
	if strings.Contains(data, "5432") || strings.Contains(data, "service.consul") {
		t.Errorf("the template fixes the endpoint instead of reading the catalog: %q", data)
	}
	const want = "host=main.cluster-abc.eu-west-1.rds.amazonaws.com port=6543 dbname=postgres user=v-pingapp-x password=s3cret sslmode=require\n"
	out, keys := executeDatabaseTemplate(t, data, []ctService{{"main.cluster-abc.eu-west-1.rds.amazonaws.com", 6543}})
	if out != want || len(keys) != 0 {
		t.Errorf("one instance: %q, keys read %v; want %q", out, keys, want)
	}
	// Two registrations (through two agents): still one connection string.
	out, keys = executeDatabaseTemplate(t, data, []ctService{
		{"main.cluster-abc.eu-west-1.rds.amazonaws.com", 6543}, {"main.cluster-abc.eu-west-1.rds.amazonaws.com", 6543}})
	if out != want || len(keys) != 0 {
		t.Errorf("two instances: %q, keys read %v; want %q", out, keys, want)
	}
	// None passing: the template reads a key nothing writes, so
	// consul-template does not render it and the task waits.
	out, keys = executeDatabaseTemplate(t, data, nil)
	if strings.TrimSpace(out) != "" || len(keys) != 1 || keys[0] != DatabaseAwaitKey("shop", "pingapp", "main") {
		t.Errorf("no instance: %q, keys read %v; want nothing rendered and a block on %s", out, keys, DatabaseAwaitKey("shop", "pingapp", "main"))
	}
	if got := DatabaseAwaitKey("shop", "pingapp", "main"); !strings.HasPrefix(got, "hstack/shop/pingapp/") {
		t.Errorf("await key %s is outside the app's KV folder, which its Consul token may read", got)
	}
}

func TestNoDatabaseNoVault(t *testing.T) {
	st := parseStack(t, webApp("", 1, ""))
	task := mustRender(t, st, Options{})[0].Job.TaskGroups[0].Tasks[0]
	if task.Vault != nil || len(task.Templates) != 0 || task.Env["DATABASE_URL_FILE"] != "" {
		t.Errorf("app without database: vault %+v, templates %v, env %v", task.Vault, task.Templates, task.Env)
	}
}

func TestDatabaseValuesQuoted(t *testing.T) {
	st := parseStack(t, `
stack "s" {}
database "main" {
  address = "db.internal"
  port    = 6432
  name    = "my db"
  role "web" {
    privilege = "readonly"
  }
}
app "web" {
  image = "x:1"
  port "http" {}
  database {
    name = "main"
    role = "web"
  }
}
`)
	data := *mustRender(t, st, Options{})[0].Job.TaskGroups[0].Tasks[0].Templates[0].EmbeddedTmpl
	if !strings.Contains(data, `host=db.internal port=6432 dbname='my db' user=`) || !strings.Contains(data, "sslmode=require") {
		t.Errorf("template data = %q", data)
	}
}

func TestDockerHardeningInProd(t *testing.T) {
	jobs := mustRender(t, loadExample(t, "prod"), Options{})
	tg := jobNamed(t, jobs, "pingapp").Job.TaskGroups[0]
	task := tg.Tasks[0]
	if task.Driver != "docker" || task.User != "65534:65534" {
		t.Errorf("driver %q user %q", task.Driver, task.User)
	}
	want := map[string]any{
		"image":           "ghcr.io/hstack-dev/pingapp:1.0.0",
		"ports":           []any{"http"},
		"args":            []any{"-listen", "${NOMAD_ADDR_http}", "-drain", "2s"},
		"readonly_rootfs": true,
		"cap_drop":        []any{"ALL"},
		"security_opt":    []any{"no-new-privileges"},
		"mount": []map[string]any{{
			"type": "tmpfs", "target": "/tmp", "readonly": false,
			"tmpfs_options": []map[string]any{{"size": 64 << 20}},
		}},
	}
	if diff := cmp.Diff(want, task.Config); diff != "" {
		t.Errorf("docker config (-want +got):\n%s", diff)
	}
	if got := tg.Networks[0].DynamicPorts; len(got) != 1 || got[0].Label != "http" || got[0].To != 8080 {
		t.Errorf("ports = %+v", got)
	}
	if diff := cmp.Diff([]*nomadapi.Spread{{Attribute: ZoneAttribute, Weight: ptr(int8(100))}}, tg.Spreads); diff != "" {
		t.Errorf("spread (-want +got):\n%s", diff)
	}
	if tg.Scaling == nil || *tg.Scaling.Min != 3 || *tg.Scaling.Max != 10 {
		t.Errorf("scaling = %+v", tg.Scaling)
	}
	if got := *tg.ShutdownDelay; got != 5*time.Second {
		t.Errorf("shutdown_delay = %v", got)
	}
	if got := *task.KillTimeout; got != 15*time.Second {
		t.Errorf("kill_timeout = %v", got)
	}

	ing := jobNamed(t, jobs, "shop-ingress").Job.TaskGroups[0].Tasks[0]
	if ing.Driver != "docker" || ing.Config["image"] != HAProxyImage || ing.Config["readonly_rootfs"] != true || ing.Config["network_mode"] != "host" {
		t.Errorf("prod ingress task: driver %q config %v", ing.Driver, ing.Config)
	}
}

// A local stack that asks for the spread gets production's: the loopback
// and Vagrant clusters' clients carry meta.zone as AWS clients do.
func TestSpreadAcrossZonesIsOneRuleEverywhere(t *testing.T) {
	for _, env := range []string{"dev", "prod"} {
		st := loadExample(t, env)
		for _, a := range st.Apps {
			a.SpreadAcrossZones = true
		}
		tg := jobNamed(t, mustRender(t, st, Options{}), "pingapp").Job.TaskGroups[0]
		if diff := cmp.Diff([]*nomadapi.Spread{{Attribute: "${meta.zone}", Weight: ptr(int8(100))}}, tg.Spreads); diff != "" {
			t.Errorf("%s: spread (-want +got):\n%s", env, diff)
		}
	}
}

func TestRawExecLocally(t *testing.T) {
	jobs := mustRender(t, loadExample(t, "dev"), Options{Binaries: map[string]string{"haproxy": "/opt/haproxy"}})
	tg := jobNamed(t, jobs, "pingapp").Job.TaskGroups[0]
	task := tg.Tasks[0]
	want := map[string]any{
		"command": "/srv/hstack/bin/pingapp",
		"args":    []any{"-listen", "${NOMAD_ADDR_http}", "-drain", "2s"},
	}
	if task.Driver != "raw_exec" || task.User != "" {
		t.Errorf("driver %q user %q", task.Driver, task.User)
	}
	if diff := cmp.Diff(want, task.Config); diff != "" {
		t.Errorf("raw_exec config (-want +got):\n%s", diff)
	}
	if got := tg.Networks[0].DynamicPorts; len(got) != 1 || got[0].To != 0 {
		t.Errorf("raw_exec ports must not map: %+v", got)
	}
	if len(tg.Spreads) != 0 {
		t.Errorf("dev asks for no spread, spread = %+v", tg.Spreads)
	}
	ing := jobNamed(t, jobs, "shop-ingress").Job.TaskGroups[0].Tasks[0]
	if ing.Driver != "raw_exec" || ing.Config["command"] != "/opt/haproxy" {
		t.Errorf("local ingress: driver %q config %v", ing.Driver, ing.Config)
	}
}

func TestDistinctHostsAndExtraRoutedPort(t *testing.T) {
	st := parseStack(t, `
stack "s" {}
app "web" {
  image          = "x:1"
  distinct_hosts = true
  port "http" {}
  port "admin_ui" {}
  health {
    port = "http"
  }
}
ingress {
  route "site" {
    app = "web"
  }
  route "admin" {
    app         = "web"
    port        = "admin_ui"
    path_prefix = "/admin"
  }
}
`)
	tg := jobNamed(t, mustRender(t, st, Options{}), "web").Job.TaskGroups[0]
	if diff := cmp.Diff([]*nomadapi.Constraint{{Operand: "distinct_hosts", RTarget: "true"}}, tg.Constraints); diff != "" {
		t.Errorf("constraints (-want +got):\n%s", diff)
	}
	var names []string
	for _, s := range tg.Services {
		names = append(names, s.Name+":"+s.PortLabel)
		if len(s.Checks) != 1 || s.Checks[0].PortLabel != "http" {
			t.Errorf("service %s checks = %+v, want the app's check", s.Name, s.Checks)
		}
	}
	if diff := cmp.Diff([]string{"web:http", "web-admin-ui:admin_ui"}, names); diff != "" {
		t.Errorf("services (-want +got):\n%s", diff)
	}
}
