package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/hstack-dev/hstack/pkg/browsertest"
	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/render/monitoring"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// Texts that mean a Nomad or Consul UI page shows an error instead of what
// was asked for.
var (
	nomadUIErrors  = []string{"Not Found", "Not Authorized", "Server Error", "No Cluster Leader", "Nomad UI is not available"}
	consulUIErrors = []string{"Error 404", "Error 500", "Page not found", "This service does not exist"}
)

// TestReleaseAsPeopleSeeIt follows a canary release of the example's dev
// environment the way the people who watch it would, on a real dev stack
// under traffic through the ingress: the Nomad UI the stack serves is the
// one scripts/tools.sh built; every dashboard panel's query and every alert
// rule evaluates on the stack's Prometheus, with the request-rate and
// error-ratio panels showing the stable and the canary version; and in a
// real browser (chromium, headless) the Nomad UI's job page shows the
// deployment waiting with its canary, "Promote Canary" and hstack's meta,
// Consul's UI the canary instance tagged, Prometheus's targets page the
// canary up, the versions page the release tag after `hstack promote`, and
// the deployments page a failed release after its rollback. Each page is a
// PNG under the test's screenshot directory; `make screenshots` copies the
// Nomad UI ones into docs/images.
func TestReleaseAsPeopleSeeIt(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault, PostgreSQL and the monitoring jobs, and a browser")
	}
	requireNomadUI(t)
	if _, err := browsertest.Find(); err != nil {
		testenv.Missing(t, "browser test: "+err.Error())
	}
	amUI := tools.AlertmanagerUIDir()
	if amUI == "" {
		testenv.Missing(t, "the browser test needs Alertmanager's web UI, which Debian's package lacks (scripts/tools.sh alertmanager-ui)")
	}
	s := devstacktest.Start(t)
	ex := newExample(t, s)
	env := append(ex.env, "HSTACK_DEPLOYED_BY=release-test")
	run := func(args ...string) (string, int) {
		t.Helper()
		return runHstack(t, ex.hstack, env, args...)
	}
	deploy := func(version string, extra ...string) (string, int) {
		args := append([]string{"deploy"}, ex.args...)
		// The ingress resolves the apps through Consul's DNS, which on a
		// test's dev stack is on a free port, not the default 8600.
		args = append(args, "--consul-dns-addr", fmt.Sprintf("127.0.0.1:%d", s.Ports.ConsulDNS))
		args = append(args, "--bin", "alertmanager-ui="+amUI, "--var", "image_tag="+version, "--commit", "c0ffee-"+version)
		return run(append(args, extra...)...)
	}
	ui, err := nomadui.New(s.NomadAddr(), "default")
	if err != nil {
		t.Fatal(err)
	}
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}

	t.Run("nomad serves the web UI that tools.sh built", func(t *testing.T) {
		dist := filepath.Join(tools.NomadUIDir(), "dist")
		want, err := os.ReadFile(filepath.Join(dist, "index.html"))
		if err != nil {
			t.Fatal(err)
		}
		got := httpGet(t, s.NomadAddr()+"/ui/")
		if !bytes.Equal(got, want) {
			t.Fatalf("/ui/ is not %s/index.html (%d bytes served, %d built)", dist, len(got), len(want))
		}
		// And the app itself: every script the page loads is the built one.
		scripts := regexp.MustCompile(`src="/ui/(assets/[^"]+\.js)"`).FindAllStringSubmatch(string(want), -1)
		if len(scripts) == 0 {
			t.Fatal("index.html loads no script")
		}
		for _, m := range scripts {
			built, err := os.ReadFile(filepath.Join(dist, m[1]))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(httpGet(t, s.NomadAddr()+"/ui/"+m[1]), built) {
				t.Errorf("/ui/%s differs from the build", m[1])
			}
		}
	})

	if out, code := deploy("1.0.0"); code != 0 {
		t.Fatalf("first deploy exited %d:\n%s", code, out)
	}
	ingress := fmt.Sprintf("http://127.0.0.1:%d/ping", ex.ingressPort)
	devstacktest.Eventually(t, 2*time.Minute, "ping through the ingress", func() error {
		_, err := httpGetErr(ingress)
		return err
	})
	// Traffic all along, as users would send: the dashboards need it
	// (startLoad stops it when the test ends, should it end early).
	load := startLoad(t, ingress, 20)

	out, code := deploy("1.0.1", "--detach", "--auto-promote=false", "pingapp")
	if code != 4 {
		t.Fatalf("canary deploy exited %d, want 4 (waiting for promotion):\n%s", code, out)
	}
	dep, _, err := nomad.Jobs().LatestDeployment("pingapp", nil)
	if err != nil || dep == nil {
		t.Fatalf("latest deployment: %v %v", dep, err)
	}

	t.Run("deploy and status print links to the Nomad UI", func(t *testing.T) {
		for _, want := range []string{"Nomad UI: " + ui.Deployment("pingapp", dep.ID), "Nomad UI: " + ui.Job("pingapp")} {
			if !strings.Contains(out, want) {
				t.Errorf("deploy output lacks %q", want)
			}
		}
		st, code := run("status", "pingapp")
		if code != 0 || !strings.Contains(st, "Nomad UI: "+ui.Job("pingapp")) {
			t.Errorf("status exit %d lacks the job page link:\n%s", code, st)
		}
		// make demo ends with this link, read the way scripts/demo.sh
		// reads it: `hstack status pingapp --json | jq -r .ui`, stdout only.
		cmd := exec.Command(ex.hstack, "status", "pingapp", "--json")
		cmd.Env = env
		js, err := cmd.Output()
		var got struct{ UI string }
		if err != nil || json.Unmarshal(js, &got) != nil || got.UI != ui.Job("pingapp") {
			t.Errorf("status --json: ui %q, want %q (%v):\n%s", got.UI, ui.Job("pingapp"), err, js)
		}
	})

	prom := "http://" + passingService(t, consul, "prometheus")
	t.Run("every dashboard query and alert rule evaluates on prometheus", func(t *testing.T) {
		checkQueries(t, prom, ex.stackFile, s)
	})

	b := browsertest.Start(t)
	t.Run("nomad UI job page: the canary waits for promotion", func(t *testing.T) {
		seen := b.Open(t, browsertest.Page{
			Name: "nomad-job-canary", URL: ui.Job("pingapp"), Docs: "nomad-ui-canary",
			Want: []string{
				"pingapp", "Deploying " + dep.ID[:8], "Deployment requires promotion", "Promote Canary",
				// The job's meta as hstack set it.
				"hstack_strategy", "canary", "version", "1.0.1", "commit", "c0ffee-1.0.1",
				"hstack_released_by", "release-test",
			},
			Errors: nomadUIErrors,
		})
		t.Logf("job page: %s", seen.Screenshot)
	})
	t.Run("nomad UI deployments page lists the deployment", func(t *testing.T) {
		b.Open(t, browsertest.Page{
			Name: "nomad-deployments-canary", URL: ui.Deployment("pingapp", dep.ID),
			// innerText is what a person reads: the UI's status badges
			// are upper case by CSS.
			Want:   []string{dep.ID[:8], "RUNNING", "Requires Promotion"},
			Errors: nomadUIErrors,
		})
	})
	t.Run("consul UI: the canary instance is tagged", func(t *testing.T) {
		b.Open(t, browsertest.Page{
			Name: "consul-pingapp-instances", URL: "http://" + s.ConsulAddr() + "/ui/dc1/services/pingapp/instances",
			Want:   []string{"pingapp", "canary", "version-1.0.1", "version-1.0.0"},
			Errors: consulUIErrors,
		})
	})
	t.Run("prometheus targets page: the canary is up", func(t *testing.T) {
		seen := b.Open(t, browsertest.Page{
			Name: "prometheus-targets", URL: prometheusUI(t, prom) + "/targets",
			Want: []string{"pingapp", `canary="true"`, `version="1.0.1"`, `version="1.0.0"`},
		})
		// Each pingapp target's row: the canary's must say UP.
		var canaryUp bool
		for _, line := range strings.Split(seen.Text, "\n") {
			if strings.Contains(line, `canary="true"`) && strings.Contains(strings.ToUpper(line), "UP") {
				canaryUp = true
			}
		}
		if !canaryUp {
			t.Errorf("no canary target row shows UP:\n%s", seen.Text)
		}
	})

	if out, code := run("promote", "pingapp"); code != 0 {
		t.Fatalf("promote exited %d:\n%s", code, out)
	}
	t.Run("nomad UI versions page: the release tag after promotion", func(t *testing.T) {
		b.Open(t, browsertest.Page{
			Name: "nomad-versions-promoted", URL: ui.Versions("pingapp"), Docs: "nomad-ui-versions",
			Want:   []string{"release-1.0.1", "release-1.0.0"},
			Errors: nomadUIErrors,
		})
	})

	// A bad release: half its answers are 5xx; the analysis fails it and
	// Nomad's auto-revert restores 1.0.1.
	if out, code := deploy("1.0.2", "--var", `extra_env={FAULT_ERROR_RATE="0.5"}`, "pingapp"); code != 1 {
		t.Fatalf("bad canary exited %d, want 1 (rolled back):\n%s", code, out)
	} else if !strings.Contains(out, "Nomad UI: "+ui.Deployments("pingapp")) {
		t.Errorf("rolled-back deploy does not link the deployments page:\n%s", out)
	}
	t.Run("nomad UI after a rollback", func(t *testing.T) {
		// What the page must show, as Nomad's API has it (logged: should
		// the page not show it, this says whether the UI or Nomad is off).
		deps, _, err := nomad.Jobs().Deployments("pingapp", false, nil)
		if err != nil {
			t.Fatal(err)
		}
		failed := false
		for _, d := range deps {
			t.Logf("deployment %s: job version %d %s", d.ID[:8], d.JobVersion, d.Status)
			failed = failed || d.Status == "failed"
		}
		if !failed {
			t.Error("Nomad lists no failed deployment: reaped by its deployment GC (see deployment_gc_threshold in pkg/devstack)?")
		}
		b.Open(t, browsertest.Page{
			Name: "nomad-deployments-rolled-back", URL: ui.Deployments("pingapp"), Docs: "nomad-ui-rollback",
			Want:   []string{"FAILED", "SUCCESSFUL", "pingapp"},
			Errors: nomadUIErrors,
		})
		b.Open(t, browsertest.Page{
			Name: "nomad-job-rolled-back", URL: ui.Job("pingapp"),
			Want:   []string{"pingapp", "1.0.1", "c0ffee-1.0.1"},
			Errors: nomadUIErrors,
		})
	})

	load.stop()
	if _, _, err := nomad.Jobs().Deregister("pingapp", false, nil); err != nil {
		t.Fatal(err)
	}
	am := "http://" + passingService(t, consul, "alertmanager")
	t.Run("alertmanager alerts page: pingapp is down", func(t *testing.T) {
		// Alertmanager's page lists the alerts it has when it loads:
		// wait for the alert through the API, then look.
		devstacktest.Eventually(t, 3*time.Minute, "InstanceDown in alertmanager", func() error {
			body, err := httpGetErr(am + "/api/v2/alerts?active=true&filter=alertname%3D%22InstanceDown%22")
			if err != nil {
				return err
			}
			if !strings.Contains(string(body), `"app":"pingapp"`) {
				return fmt.Errorf("no InstanceDown for pingapp yet: %s", body)
			}
			return nil
		})
		b.Open(t, browsertest.Page{
			// Filtered as a person looking for it would: with more than one
			// alert group (the bad canary's AppHighErrorRate may have
			// fired too) the page folds every group to its name.
			Name: "alertmanager-alerts", URL: am + "/#/alerts?filter=" + url.QueryEscape(`{alertname="InstanceDown",app="pingapp"}`),
			Want: []string{`alertname="InstanceDown"`, `app="pingapp"`, `severity="critical"`},
		})
	})
}

// requireNomadUI skips (outside CI) unless the dev stack's Nomad is the
// one built with its web UI.
func requireNomadUI(t *testing.T) {
	t.Helper()
	bin, err := tools.Find("nomad")
	want := filepath.Join(tools.NomadUIDir(), "nomad")
	if err != nil || bin != want {
		testenv.Missing(t, fmt.Sprintf("the Nomad web UI test needs Nomad built with its UI at %s (scripts/tools.sh nomad-ui; found %q, %v)", want, bin, err))
	}
}

// checkQueries runs every dashboard panel's query as Grafana would (a range
// query, $__rate_interval four scrape intervals) and every alert rule's
// expression (an instant query) against prom; each must evaluate without
// error. The request-rate and error-ratio panels must return a series for
// the stable (1.0.0) and the canary (1.0.1) version.
func checkQueries(t *testing.T, prom, stackFile string, s *devstack.Stack) {
	t.Helper()
	c, err := promapi.NewClient(promapi.Config{Address: prom})
	if err != nil {
		t.Fatal(err)
	}
	api := promv1.NewAPI(c)
	st, diags := stackfile.Load(stackFile, stackfile.LoadOptions{Env: "dev", Getenv: func(string) string { return "" },
		Vars: []string{fmt.Sprintf("database_port=%d", s.Ports.Postgres)}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	rateInterval := 4 * st.Monitoring.Prometheus.ScrapeInterval
	dashboards, err := monitoring.Dashboards()
	if err != nil {
		t.Fatal(err)
	}
	rangeQuery := func(q string) (model.Matrix, error) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		end := time.Now()
		v, warn, _, err := api.QueryRange(ctx, q, promv1.Range{Start: end.Add(-5 * time.Minute), End: end, Step: 5 * time.Second})
		if err != nil {
			return nil, err
		}
		if len(warn) > 0 {
			t.Logf("%s: warnings %v", q, warn)
		}
		m, ok := v.(model.Matrix)
		if !ok {
			return nil, fmt.Errorf("a range query returned %s", v.Type())
		}
		return m, nil
	}
	versions := func(m model.Matrix) map[string]bool {
		out := map[string]bool{}
		for _, s := range m {
			out[string(s.Metric["version"])] = true
		}
		return out
	}
	// The canary has had traffic for a while (the gate's load test, then
	// this test's); wait until both versions show in the two panels that
	// must tell them apart.
	for _, d := range dashboards {
		for _, q := range d.Queries() {
			if q.Panel != monitoring.PanelRequestRate && q.Panel != monitoring.PanelErrorRatio {
				continue
			}
			promQL := q.PromQL("pingapp", rateInterval)
			devstacktest.Eventually(t, 3*time.Minute, q.Panel+" shows 1.0.0 and 1.0.1", func() error {
				m, err := rangeQuery(promQL)
				if err != nil {
					return err
				}
				if v := versions(m); !v["1.0.0"] || !v["1.0.1"] {
					return fmt.Errorf("%s returns versions %v", promQL, v)
				}
				return nil
			})
		}
	}
	n := 0
	for _, d := range dashboards {
		for _, q := range d.Queries() {
			promQL := q.PromQL("pingapp", rateInterval)
			m, err := rangeQuery(promQL)
			if err != nil {
				t.Errorf("dashboard %s panel %q query %s: %s: %v", q.Dashboard, q.Panel, q.RefID, promQL, err)
				continue
			}
			n++
			t.Logf("%s / %s %s: %d series", q.Dashboard, q.Panel, q.RefID, len(m))
		}
	}
	rules, err := monitoring.AlertRules(st, monitoring.Options{Local: render.Local(st)})
	if err != nil || len(rules) == 0 {
		t.Fatalf("alert rules %v: %v", rules, err)
	}
	for _, r := range rules {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		v, _, _, err := api.Query(ctx, r.Expr, time.Now())
		cancel()
		if err != nil {
			t.Errorf("rule %s/%s: %s: %v", r.Group, r.Alert, r.Expr, err)
			continue
		}
		n++
		t.Logf("rule %s/%s: %s", r.Group, r.Alert, v.Type())
	}
	// Prometheus evaluates the same rules itself: none may have failed.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	loaded, err := api.Rules(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var evaluated int
	for _, g := range loaded.Groups {
		for _, r := range g.Rules {
			if ar, ok := r.(promv1.AlertingRule); ok {
				evaluated++
				if ar.Health != promv1.RuleHealthGood && ar.LastError != "" {
					t.Errorf("Prometheus cannot evaluate %s/%s: %s", g.Name, ar.Name, ar.LastError)
				}
			}
		}
	}
	if evaluated != len(rules) {
		t.Errorf("Prometheus has %d alert rules loaded, hstack renders %d", evaluated, len(rules))
	}
	t.Logf("%d dashboard queries and alert rules evaluated", n)
}

// prometheusUI is the base of the web UI prom serves: "/" redirects to the
// UI's graph page, which is /graph for the upstream build (React) and
// /classic/graph for Debian's (the classic templates; Debian does not
// package the React UI).
func prometheusUI(t *testing.T, prom string) string {
	t.Helper()
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(prom + "/")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // only the redirect is read
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("GET %s/: %s, no redirect to the UI: %v", prom, resp.Status, err)
	}
	base, ok := strings.CutSuffix(loc.Path, "/graph")
	if !ok {
		t.Fatalf("GET %s/ redirects to %s, not to a graph page", prom, loc)
	}
	return prom + base
}

// passingService waits for a passing instance of a Consul service and
// returns its address.
func passingService(t *testing.T, consul *consulapi.Client, name string) string {
	t.Helper()
	var addr string
	devstacktest.Eventually(t, 2*time.Minute, name+" passing in consul", func() error {
		entries, _, err := consul.Health().Service(name, "", true, nil)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return fmt.Errorf("no passing %s", name)
		}
		addr = fmt.Sprintf("%s:%d", entries[0].Service.Address, entries[0].Service.Port)
		return nil
	})
	return addr
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	b, err := httpGetErr(url)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func httpGetErr(url string) ([]byte, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return b, err
}
