package monitoring

//lint:file-ignore SA1019 the dashboards are classic Grafana JSON on purpose; see dashboards.go

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/hstack-dev/hstack/pkg/jobhcl"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func TestJobsSelection(t *testing.T) {
	for _, tc := range []struct {
		name   string
		local  bool
		modify func(m *stackfile.Monitoring)
		want   []string
	}{
		{"prod, everything", false, nil,
			[]string{Prometheus, Alertmanager, NodeExporter, Grafana, Loki, Promtail}},
		{"local, everything: no docker-only components", true, nil,
			[]string{Prometheus, Alertmanager, NodeExporter}},
		{"prod, vector", false, func(m *stackfile.Monitoring) { m.Logs.Backend = stackfile.LogsVector },
			[]string{Prometheus, Alertmanager, NodeExporter, Grafana, Loki, Vector}},
		{"prod, logs off", false, func(m *stackfile.Monitoring) { m.Logs.Enabled = false },
			[]string{Prometheus, Alertmanager, NodeExporter, Grafana}},
		{"prod, only grafana", false, func(m *stackfile.Monitoring) {
			m.Prometheus.Enabled, m.Alertmanager.Enabled, m.NodeExporter.Enabled, m.Logs.Enabled = false, false, false, false
		}, []string{Grafana}},
		{"local, only grafana", true, func(m *stackfile.Monitoring) {
			m.Prometheus.Enabled, m.Alertmanager.Enabled, m.NodeExporter.Enabled, m.Logs.Enabled = false, false, false, false
		}, nil},
		{"local, alertmanager and node-exporter off", true, func(m *stackfile.Monitoring) {
			m.Alertmanager.Enabled, m.NodeExporter.Enabled = false, false
		}, []string{Prometheus}},
		{"no monitoring block", false, func(m *stackfile.Monitoring) { *m = stackfile.Monitoring{} }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := parseStack(t, fullStack)
			if tc.modify != nil {
				tc.modify(st.Monitoring)
			}
			o := prodOpts()
			if tc.local {
				o = localOpts()
			}
			if got := jobIDs(mustJobs(t, st, o)); !slices.Equal(got, tc.want) {
				t.Errorf("jobs = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("nil monitoring", func(t *testing.T) {
		st := parseStack(t, fullStack)
		st.Monitoring = nil
		if jobs := mustJobs(t, st, prodOpts()); len(jobs) != 0 {
			t.Errorf("jobs = %v, want none", jobIDs(jobs))
		}
	})

	t.Run("the repository's hstack.hcl", func(t *testing.T) {
		for env, want := range map[string][]string{
			"dev":  {Prometheus, Alertmanager, NodeExporter},
			"prod": {Prometheus, Alertmanager, NodeExporter, Grafana, Loki, Promtail},
		} {
			st, diags := stackfile.Load("../../../hstack.hcl", stackfile.LoadOptions{Env: env})
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			o := prodOpts()
			if env == "dev" {
				o = localOpts()
			}
			if got := jobIDs(mustJobs(t, st, o)); !slices.Equal(got, want) {
				t.Errorf("%s: jobs = %v, want %v", env, got, want)
			}
		}
	})
}

func TestJobsCommonSettings(t *testing.T) {
	st := parseStack(t, fullStack)
	for _, local := range []bool{true, false} {
		o := prodOpts()
		if local {
			o = localOpts()
		}
		for _, j := range mustJobs(t, st, o) {
			id := *j.ID
			if *j.Region != "eu" || *j.Namespace != "web" || !slices.Equal(j.Datacenters, []string{"dc1", "dc2"}) {
				t.Errorf("%s: region %s, namespace %s, datacenters %v", id, *j.Region, *j.Namespace, j.Datacenters)
			}
			if j.Meta[MetaComponent] != id {
				t.Errorf("%s: meta %s = %q", id, MetaComponent, j.Meta[MetaComponent])
			}
			wantType := "service"
			if id == NodeExporter || id == Promtail || id == Vector {
				wantType = "system"
			}
			if *j.Type != wantType {
				t.Errorf("%s: type %s, want %s", id, *j.Type, wantType)
			}
			if len(j.TaskGroups) != 1 || len(j.TaskGroups[0].Tasks) != 1 {
				t.Fatalf("%s: want one group with one task", id)
			}
			tg := j.TaskGroups[0]
			task := tg.Tasks[0]
			if tg.RestartPolicy == nil || *tg.RestartPolicy.Mode != "delay" {
				t.Errorf("%s: restart policy %+v", id, tg.RestartPolicy)
			}
			if task.Resources == nil || task.Resources.CPU == nil || task.Resources.MemoryMB == nil {
				t.Errorf("%s: no resources", id)
			}
			if len(tg.Services) != 1 || len(tg.Services[0].Checks) != 1 {
				t.Errorf("%s: want one service with a check", id)
			} else if tg.Services[0].Name != id {
				t.Errorf("%s: service %q", id, tg.Services[0].Name)
			}
			switch {
			case local && task.Driver != "raw_exec":
				t.Errorf("%s: local driver %s", id, task.Driver)
			case !local && task.Driver != "docker":
				t.Errorf("%s: prod driver %s", id, task.Driver)
			case !local:
				img, _ := task.Config["image"].(string)
				if img != Images[id] || !regexp.MustCompile(`:v?[0-9]+\.[0-9]+\.[0-9]+`).MatchString(img) {
					t.Errorf("%s: image %q is not the pinned one", id, img)
				}
			case local:
				if cmd := task.Config["command"]; !strings.HasPrefix(cmd.(string), "/usr/bin/") {
					t.Errorf("%s: command %v", id, cmd)
				}
			}
			// Ports: dynamic locally (tests and several stacks share a
			// host), the well-known static ones in production.
			nw := tg.Networks[0]
			if local && (len(nw.DynamicPorts) != 1 || len(nw.ReservedPorts) != 0) {
				t.Errorf("%s: local ports %+v", id, nw)
			}
			if !local && (len(nw.ReservedPorts) != 1 || nw.ReservedPorts[0].Value != staticPorts[id]) {
				t.Errorf("%s: prod ports %+v", id, nw)
			}
			if _, err := jobhcl.Encode(j); err != nil {
				t.Errorf("%s: jobhcl.Encode: %v", id, err)
			}
		}
	}
}

func TestBinariesOverride(t *testing.T) {
	st := parseStack(t, fullStack)
	o := localOpts()
	o.Binaries = map[string]string{"prometheus": "/opt/prom/prometheus", "node_exporter": "/opt/ne"}
	jobs := mustJobs(t, st, o)
	for id, want := range map[string]string{
		Prometheus:   "/opt/prom/prometheus",
		Alertmanager: "/usr/bin/prometheus-alertmanager",
		NodeExporter: "/opt/ne",
	} {
		if got := findJob(t, jobs, id).TaskGroups[0].Tasks[0].Config["command"]; got != want {
			t.Errorf("%s: command %v, want %s", id, got, want)
		}
	}
}

func TestArgs(t *testing.T) {
	st := parseStack(t, fullStack)
	st.Monitoring.Prometheus.Retention = 36 * time.Hour
	jobs := mustJobs(t, st, localOpts())
	args := func(id string) string {
		var ss []string
		for _, a := range findJob(t, jobs, id).TaskGroups[0].Tasks[0].Config["args"].([]any) {
			ss = append(ss, a.(string))
		}
		return strings.Join(ss, " ")
	}
	for id, want := range map[string][]string{
		Prometheus: {
			"--storage.tsdb.retention.time=1d12h", "--web.listen-address=${NOMAD_ADDR_http}",
			"--web.enable-lifecycle", "--storage.tsdb.path=${NOMAD_ALLOC_DIR}/data/prometheus",
		},
		Alertmanager: {"--web.listen-address=${NOMAD_ADDR_http}", "--cluster.listen-address= ", "--storage.path=${NOMAD_ALLOC_DIR}/"},
		NodeExporter: {"--web.listen-address=${NOMAD_ADDR_metrics}"},
	} {
		got := args(id) + " "
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("%s args %q lack %q", id, got, w)
			}
		}
	}
}

func TestReceivers(t *testing.T) {
	st := parseStack(t, fullStack)
	for _, local := range []bool{true, false} {
		o := prodOpts()
		if local {
			o = localOpts()
		}
		job := findJob(t, mustJobs(t, st, o), Alertmanager)
		task := job.TaskGroups[0].Tasks[0]
		if task.Vault == nil {
			t.Error("receivers read Vault but the task has no vault block")
		}

		// No secret, and nothing that looks like one, is in the job: no
		// URL at all, and no inline secret field of Alertmanager's.
		b, err := json.Marshal(job)
		if err != nil {
			t.Fatal(err)
		}
		js := string(b)
		for _, bad := range []string{"://", slackSecret, pdSecret, webhookSecret, "SECRETWEBHOOK", `api_url:`, `routing_key:`, `service_key:`, `auth_password:`} {
			if strings.Contains(js, bad) {
				t.Errorf("local=%v: the alertmanager job contains %q", local, bad)
			}
		}

		cfg := findTemplate(t, job, "secrets/alertmanager.yml")
		data := *cfg.EmbeddedTmpl
		for _, want := range []string{
			"api_url_file: {{ env \"NOMAD_SECRETS_DIR\" }}/slack.slack-url",
			"channel: '#ops'",
			"routing_key_file: {{ env \"NOMAD_SECRETS_DIR\" }}/pd.pagerduty-key",
			"to: ops@example.com",
			`url: {{ with secret "kv/hooks" }}{{ index .Data "hook-url" | toJSON }}{{ end }}`,
			"receiver: slack",
			"group_by: [alertname, app]",
			"group_wait: 30s",
			"repeat_interval: 4h",
		} {
			if !strings.Contains(data, want) {
				t.Errorf("alertmanager.yml lacks %q:\n%s", want, data)
			}
		}
		slack := findTemplate(t, job, "secrets/slack.slack-url")
		if got, want := *slack.EmbeddedTmpl, `{{ with secret "secret/data/alerting" }}{{ .Data.data.slack_url }}{{ end }}`; got != want {
			t.Errorf("slack secret template %q, want %q", got, want)
		}
		pd := findTemplate(t, job, "secrets/pd.pagerduty-key")
		if got, want := *pd.EmbeddedTmpl, `{{ with secret "secret/data/alerting" }}{{ .Data.data.pd_key }}{{ end }}`; got != want {
			t.Errorf("pagerduty secret template %q, want %q", got, want)
		}
		for _, tmpl := range task.Templates {
			if *tmpl.Perms != "0600" || !strings.HasPrefix(*tmpl.DestPath, "secrets/") || !*tmpl.ErrMissingKey {
				t.Errorf("%s: perms %s, error_on_missing_key %v: secrets must be private files", *tmpl.DestPath, *tmpl.Perms, *tmpl.ErrMissingKey)
			}
			if !local && (tmpl.Uid == nil || *tmpl.Uid != containerUser) {
				t.Errorf("%s: the container's user cannot read it", *tmpl.DestPath)
			}
		}

		// Rendered as the client would, the secrets land in their files
		// and the webhook URL, quoted, in the config.
		dir := t.TempDir()
		c := newFakeClient(dir)
		writeRendered(t, c, job, dir)
		for file, want := range map[string]string{"secrets/slack.slack-url": slackSecret, "secrets/pd.pagerduty-key": pdSecret} {
			if b, _ := os.ReadFile(filepath.Join(dir, file)); string(b) != want {
				t.Errorf("%s = %q, want the secret", file, b)
			}
		}
		rendered, _ := os.ReadFile(filepath.Join(dir, "secrets/alertmanager.yml"))
		for _, want := range []string{
			`url: "https://hooks.example/SECRETWEBHOOK?token=x\"y"`,
			"smarthost: 10.0.0.7:25",
			"from: alertmanager@node-7",
			"api_url_file: " + filepath.Join(dir, "secrets", "slack.slack-url"),
		} {
			if !strings.Contains(string(rendered), want) {
				t.Errorf("rendered alertmanager.yml lacks %q:\n%s", want, rendered)
			}
		}
		c.services["smtp"] = []fakeService{{Address: "10.1.1.1", Port: 587}}
		out, err := c.render(cfg)
		if err != nil || !strings.Contains(out, "smarthost: 10.1.1.1:587") {
			t.Errorf("with an smtp service in Consul: %v\n%s", err, out)
		}
	}

	t.Run("email only: no vault", func(t *testing.T) {
		st := parseStack(t, fullStack)
		am := &st.Monitoring.Alertmanager
		am.Receivers = am.Receivers[2:3]
		am.Route.Receiver = am.Receivers[0].Name
		job := findJob(t, mustJobs(t, st, localOpts()), Alertmanager)
		if job.TaskGroups[0].Tasks[0].Vault != nil {
			t.Error("vault block without a Vault reference")
		}
		if n := len(job.TaskGroups[0].Tasks[0].Templates); n != 1 {
			t.Errorf("%d templates, want only alertmanager.yml", n)
		}
	})

	t.Run("missing key fails instead of rendering <no value>", func(t *testing.T) {
		job := findJob(t, mustJobs(t, st, localOpts()), Alertmanager)
		c := newFakeClient(t.TempDir())
		c.secrets["secret/data/alerting"] = map[string]any{"data": map[string]any{"other": "x"}}
		if out, err := c.render(findTemplate(t, job, "secrets/slack.slack-url")); err == nil {
			t.Errorf("rendered %q, want an error", out)
		}
	})
}

func TestTemplateInjectionRefused(t *testing.T) {
	for name, modify := range map[string]func(st *stackfile.Stack){
		"slack channel": func(st *stackfile.Stack) {
			st.Monitoring.Alertmanager.Receivers[0].Channel = `{{ with secret "secret/data/other" }}{{ .Data.data.x }}{{ end }}`
		},
		"email to": func(st *stackfile.Stack) {
			st.Monitoring.Alertmanager.Receivers[2].To = `{{ env "VAULT_TOKEN" }}`
		},
	} {
		t.Run(name, func(t *testing.T) {
			st := parseStack(t, fullStack)
			modify(st)
			if _, err := Jobs(st, localOpts()); err == nil || !strings.Contains(err.Error(), "{{") {
				t.Errorf("err = %v, want a refusal", err)
			}
		})
	}
}

func TestSecretAction(t *testing.T) {
	for _, tc := range []struct {
		ref  stackfile.SecretRef
		pipe string
		want string
	}{
		{stackfile.SecretRef{VaultPath: "secret/data/a/b", VaultKey: "k"}, "",
			`{{ with secret "secret/data/a/b" }}{{ .Data.data.k }}{{ end }}`},
		{stackfile.SecretRef{VaultPath: "kv/a", VaultKey: "k"}, "toJSON",
			`{{ with secret "kv/a" }}{{ .Data.k | toJSON }}{{ end }}`},
		{stackfile.SecretRef{VaultPath: "secret/data/x", VaultKey: "a-b"}, "toJSON",
			`{{ with secret "secret/data/x" }}{{ index .Data.data "a-b" | toJSON }}{{ end }}`},
		{stackfile.SecretRef{VaultPath: `kv/"}}`, VaultKey: `"`}, "",
			`{{ with secret "kv/\"}}" }}{{ index .Data "\"" }}{{ end }}`},
	} {
		if got := secretAction(&tc.ref, tc.pipe); got != tc.want {
			t.Errorf("secretAction(%v) = %s, want %s", tc.ref, got, tc.want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	for _, o := range []Options{localOpts(), prodOpts()} {
		var prev []byte
		for i := 0; i < 5; i++ {
			// A fresh parse each time: nothing may depend on map order or
			// on pointers shared between renders.
			b, err := json.Marshal(mustJobs(t, parseStack(t, fullStack), o))
			if err != nil {
				t.Fatal(err)
			}
			if prev != nil && string(b) != string(prev) {
				t.Fatal("two renders of the same stack differ")
			}
			prev = b
		}
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Second: "2s", 90 * time.Second: "1m30s", 4 * time.Hour: "4h",
		15 * 24 * time.Hour: "15d", 36 * time.Hour: "1d12h", 250 * time.Millisecond: "250ms", 0: "0s",
	} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%v) = %s, want %s", d, got, want)
		}
	}
}

func TestTiming(t *testing.T) {
	st := parseStack(t, fullStack)
	for _, tc := range []struct {
		local    bool
		scrape   time.Duration
		wantDown time.Duration
	}{
		{true, 2 * time.Second, 10 * time.Second},
		{true, 15 * time.Second, 30 * time.Second},
		{false, 15 * time.Second, 2 * time.Minute},
		{false, time.Minute, 4 * time.Minute},
	} {
		st.Monitoring.Prometheus.ScrapeInterval = tc.scrape
		r := &renderer{st: st, m: st.Monitoring, local: tc.local}
		if got := r.timing().instanceDown; got != tc.wantDown {
			t.Errorf("local=%v scrape=%v: InstanceDown for %v, want %v", tc.local, tc.scrape, got, tc.wantDown)
		}
	}
}

func TestRulesPerApp(t *testing.T) {
	st := parseStack(t, fullStack)
	rules := *findTemplate(t, findJob(t, mustJobs(t, st, prodOpts()), Prometheus), promRulesFile).EmbeddedTmpl
	for _, want := range []string{
		`(count(up{app="pingapp"} == 1) or vector(0)) < 2`,
		// Scaled apps: the autoscaler's floor, not the initial count.
		`(count(up{app="scaled"} == 1) or vector(0)) < 2`,
		"name: app-idle",
		"VaultDown",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules lack %q", want)
		}
	}
	// An app that should run no instance cannot be down.
	if strings.Contains(rules, `up{app="idle"}`) {
		t.Error("InstanceDown rule for an app with count 0")
	}
	local := *findTemplate(t, findJob(t, mustJobs(t, st, localOpts()), Prometheus), promRulesFile).EmbeddedTmpl
	if strings.Contains(local, "VaultDown") {
		t.Error("VaultDown rendered locally, where Vault's metrics need a token")
	}
}

func TestDashboards(t *testing.T) {
	ds, err := Dashboards()
	if err != nil || len(ds) != 2 {
		t.Fatalf("dashboards %v, %v", ds, err)
	}
	job := findJob(t, mustJobs(t, parseStack(t, fullStack), prodOpts()), Grafana)
	for _, dest := range []string{"local/dashboards/app.json", "local/dashboards/cluster.json", "local/provisioning/datasources/hstack.yml", "local/provisioning/dashboards/hstack.yml"} {
		findTemplate(t, job, dest)
	}
	ds0 := *findTemplate(t, job, "local/provisioning/datasources/hstack.yml").EmbeddedTmpl
	for _, want := range []string{"url: http://prometheus.service.consul:9090", "url: http://loki.service.consul:3100"} {
		if !strings.Contains(ds0, want) {
			t.Errorf("datasources lack %q:\n%s", want, ds0)
		}
	}
	uids := map[string]bool{}
	for _, d := range ds {
		want, err := d.JSON()
		if err != nil {
			t.Fatal(err)
		}
		// What Grafana reads is the file the Nomad client renders.
		got, err := newFakeClient(t.TempDir()).render(findTemplate(t, job, "local/dashboards/"+d.File))
		if err != nil || got != string(want) {
			t.Fatalf("%s does not survive the template: %v", d.File, err)
		}
		m, err := checkDashboard([]byte(got))
		if err != nil {
			t.Fatalf("%s: %v", d.File, err)
		}
		uid := deref(m.Uid)
		if uid == "" || uids[uid] {
			t.Errorf("%s: uid %q missing or duplicate", d.File, uid)
		}
		uids[uid] = true
		if m.Editable == nil || *m.Editable {
			t.Errorf("%s: editable in Grafana's UI; the provisioned file would silently diverge", d.File)
		}
		for _, p := range m.Panels {
			if p.Panel == nil || len(p.Panel.Targets) == 0 {
				t.Errorf("%s: a panel without a query: %+v", d.File, p)
				continue
			}
			if p.Panel.Datasource == nil || deref(p.Panel.Datasource.Uid) != "prometheus" {
				t.Errorf("%s: panel %q does not use the provisioned Prometheus datasource", d.File, deref(p.Panel.Title))
			}
		}
	}
}

// checkDashboard checks a dashboard file against the Grafana SDK's types
// (Grafana itself cannot run here): it must decode into them, panel options
// and queries included (a wrongly typed value fails), and encode back to the
// same JSON (a field the schema does not know would be lost); then the SDK's
// own validation runs. The SDK's strict decoders would be the direct way,
// but in v0.0.22 they drop every panel and query they decode (each returns
// an empty error list as a non-nil error).
func checkDashboard(b []byte) (dashboard.Dashboard, error) {
	plugins.RegisterDefaultPlugins()
	var m dashboard.Dashboard
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("not a dashboard by Grafana's schema: %w", err)
	}
	again, err := json.Marshal(m)
	if err != nil {
		return m, err
	}
	var want, got any
	if err := json.Unmarshal(b, &want); err != nil {
		return m, err
	}
	if err := json.Unmarshal(again, &got); err != nil {
		return m, err
	}
	if path := firstDifference("", want, got); path != "" {
		return m, fmt.Errorf("%s is not in Grafana's schema (lost or changed when decoded into the SDK's types)", path)
	}
	return m, m.Validate()
}

// firstDifference is the JSON path where a and b first differ, "" if
// nowhere.
func firstDifference(path string, a, b any) string {
	switch a := a.(type) {
	case map[string]any:
		bm, ok := b.(map[string]any)
		if !ok {
			return path + " (type)"
		}
		keys := slices.Sorted(maps.Keys(a))
		for _, k := range keys {
			bv, ok := bm[k]
			if !ok {
				return path + "." + k + " (dropped)"
			}
			if d := firstDifference(path+"."+k, a[k], bv); d != "" {
				return d
			}
		}
		for k := range bm {
			if _, ok := a[k]; !ok {
				return path + "." + k + " (added)"
			}
		}
		return ""
	case []any:
		bs, ok := b.([]any)
		if !ok || len(bs) != len(a) {
			return path + " (length)"
		}
		for i := range a {
			if d := firstDifference(fmt.Sprintf("%s[%d]", path, i), a[i], bs[i]); d != "" {
				return d
			}
		}
		return ""
	}
	if a != b {
		if path == "" {
			return "(value)"
		}
		return path
	}
	return ""
}

// TestDashboardValidationCatches proves checkDashboard is not a formality: a
// misspelt field and a wrongly typed one are rejected.
func TestDashboardValidationCatches(t *testing.T) {
	for name, bad := range map[string]string{
		"unknown field":  `{"title": "x", "pannels": []}`,
		"wrong type":     `{"title": "x", "refresh": 30, "panels": []}`,
		"bad panel":      `{"title": "x", "panels": [{"type": "timeseries", "gridPos": {"h": "tall"}}]}`,
		"bad options":    `{"title": "x", "panels": [{"type": "timeseries", "options": {"legend": {"showLegend": "yes"}}}]}`,
		"unknown option": `{"title": "x", "panels": [{"type": "timeseries", "options": {"legendd": {}}}]}`,
		"bad query":      `{"title": "x", "panels": [{"type": "timeseries", "datasource": {"type": "prometheus"}, "targets": [{"refId": "A", "expr": 1}]}]}`,
	} {
		_, err := checkDashboard([]byte(bad))
		if err == nil {
			t.Errorf("%s: %s accepted", name, bad)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
}

func TestTargetFiles(t *testing.T) {
	st := parseStack(t, fullStack)
	job := findJob(t, mustJobs(t, st, prodOpts()), Prometheus)
	dir := t.TempDir()
	writeRendered(t, newFakeClient(dir), job, dir)
	read := func(name string) []struct {
		Targets []string
		Labels  map[string]string
	} {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, promTargetsDir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var groups []struct {
			Targets []string
			Labels  map[string]string
		}
		if err := json.Unmarshal(b, &groups); err != nil {
			t.Fatalf("%s.json is not JSON: %v\n%s", name, err, b)
		}
		return groups
	}
	app := read("app-pingapp")
	if len(app) != 2 {
		t.Fatalf("app-pingapp: %d targets, want 2", len(app))
	}
	wantLabels := []map[string]string{
		{"app": "pingapp", "node": "node-7", "version": "1.0.0", "canary": "", "alloc_id": "0b6c1b56-6a5e-4d1e-8d0c-5d1e2c3b4a59"},
		{"app": "pingapp", "node": "node-8", "version": "1.1.0", "canary": "true", "alloc_id": "1b6c1b56-6a5e-4d1e-8d0c-5d1e2c3b4a59"},
	}
	for i, g := range app {
		if !slices.Equal(g.Targets, []string{[]string{"10.0.0.7:23456", "10.0.0.8:23457"}[i]}) {
			t.Errorf("target %d: %v", i, g.Targets)
		}
		for k, v := range wantLabels[i] {
			if g.Labels[k] != v {
				t.Errorf("target %d: label %s = %q, want %q", i, k, g.Labels[k], v)
			}
		}
	}
	// Only the http registration of Nomad serves metrics.
	if n := read("nomad-servers"); len(n) != 1 || n[0].Targets[0] != "10.0.1.1:4646" {
		t.Errorf("nomad-servers = %+v", n)
	}
	// Consul is registered on its RPC port; metrics are on HTTP.
	if c := read("consul"); len(c) != 1 || c[0].Targets[0] != "10.0.1.1:8500" || c[0].Labels["service"] != "consul" {
		t.Errorf("consul = %+v", c)
	}
	if a := read("alertmanager"); len(a) != 0 {
		t.Errorf("alertmanager = %+v, want no target", a)
	}
	for _, tmpl := range job.TaskGroups[0].Tasks[0].Templates {
		if strings.HasPrefix(*tmpl.DestPath, promTargetsDir) && *tmpl.ChangeMode != "noop" {
			t.Errorf("%s: change_mode %s; Prometheus watches target files itself", *tmpl.DestPath, *tmpl.ChangeMode)
		}
	}
}

func TestAlertmanagerUIPath(t *testing.T) {
	st := parseStack(t, fullStack)
	args := func(o Options) []any {
		task := findJob(t, mustJobs(t, st, o), Alertmanager).TaskGroups[0].Tasks[0]
		a, _ := task.Config["args"].([]any)
		return a
	}
	local, prod := localOpts(), prodOpts()
	local.Binaries = map[string]string{AlertmanagerUI: "/cache/alertmanager-ui"}
	prod.Binaries = map[string]string{AlertmanagerUI: "/cache/alertmanager-ui"}
	if !slices.Contains(args(local), any("--web.ui-path=/cache/alertmanager-ui")) {
		t.Errorf("local alertmanager args %v lack the UI path", args(local))
	}
	for _, a := range args(prod) {
		if strings.HasPrefix(a.(string), "--web.ui-path") {
			t.Errorf("the production image has its UI; got %v", a)
		}
	}
	if slices.ContainsFunc(args(localOpts()), func(a any) bool { return strings.HasPrefix(a.(string), "--web.ui-path") }) {
		t.Error("a UI path without one being given")
	}
}

// TestConsulAddrForms: CONSUL_HTTP_ADDR may be host:port or carry its
// scheme, and a TLS-only Consul (dev up --secure) is scraped over https.
func TestConsulAddrForms(t *testing.T) {
	st := parseStack(t, fullStack)
	for _, c := range []struct {
		addr, scheme, host string
		bad                bool
	}{
		{addr: "127.0.0.1:8501", scheme: "http", host: "127.0.0.1:8501"},
		{addr: "http://127.0.0.1:8500", scheme: "http", host: "127.0.0.1:8500"},
		{addr: "https://127.0.0.1:8501", scheme: "https", host: "127.0.0.1:8501"},
		{addr: "https://consul.local", scheme: "https", host: "consul.local:443"},
		{addr: "127.0.0.1:8500/v1", bad: true},
		{addr: "ftp://127.0.0.1:8500", bad: true},
		{addr: "https://127.0.0.1:8501/v1", bad: true},
	} {
		o := localOpts()
		o.ConsulHTTPAddr = c.addr
		r, err := newRenderer(st, o)
		if c.bad {
			if err == nil {
				t.Errorf("%q accepted", c.addr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", c.addr, err)
			continue
		}
		sc := r.consulScrape()
		scheme := sc.Scheme
		if scheme == "" {
			scheme = "http"
		}
		if scheme != c.scheme || len(sc.StaticConfigs) != 1 || sc.StaticConfigs[0].Targets[0] != c.host {
			t.Errorf("%q: scraped as %s %+v, want %s %s", c.addr, scheme, sc.StaticConfigs, c.scheme, c.host)
		}
	}
}
