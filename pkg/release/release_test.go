package release

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/analysis"
	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/nomadfake"
	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/notify"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Releases through the one release API against pkg/nomadfake, a Consul
// catalog fake and real HTTP canaries (httptest), with notifications to a
// webhook: every operation is tagged and notified the same way.

const stackHCL = `
stack "shop" {}

notifier "ops" {
  type    = "webhook"
  url_env = "HOOK_URL"
}

app "web" {
  driver  = "raw_exec"
  command = "/bin/web"
  count   = 2
  port "http" {}
  rollout {
    strategy = "canary"
    canary   = 1
    smoke_test "ping" {
      path        = "/ping"
      expect_body = "pong"
    }
    notify = ["ops"]
  }
}

app "stepped" {
  driver  = "raw_exec"
  command = "/bin/stepped"
  count   = 3
  port "http" {}
  rollout {
    strategy = "canary"
    canary   = 1
    step {
      canary = 1
    }
    step {
      canary = 2
    }
  }
}
`

type world struct {
	t      *testing.T
	fake   *nomadfake.Fake
	nomad  *nomadapi.Client
	consul *consulapi.Client
	st     *stackfile.Stack
	// pong is what the canaries answer on /ping.
	pong atomic.Value
	mu   sync.Mutex
	sent []notify.Event
	dp   *Deployer
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, fake: nomadfake.New()}
	w.nomad = w.fake.Client()
	w.pong.Store("pong")
	st, diags := stackfile.Parse([]byte(stackHCL), "hstack.hcl", stackfile.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	w.st = st

	canary := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		fmt.Fprint(rw, w.pong.Load().(string))
	}))
	t.Cleanup(canary.Close)
	host, port, _ := net.SplitHostPort(canary.Listener.Addr().String())
	var portN int
	if _, err := fmt.Sscan(port, &portN); err != nil {
		t.Fatal(err)
	}

	// Consul's catalog: every running allocation of the app, as Nomad
	// registers it, pointing at the canary server.
	consul := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.Header().Set("X-Consul-Index", "7")
		rw.Header().Set("X-Consul-KnownLeader", "true")
		rw.Header().Set("X-Consul-LastContact", "0")
		switch {
		case r.URL.Path == "/v1/status/leader":
			fmt.Fprint(rw, `"127.0.0.1:8300"`)
		case strings.HasPrefix(r.URL.Path, "/v1/catalog/service/"):
			job := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/catalog/service/"), "-http")
			stubs, _, err := w.nomad.Jobs().Allocations(job, false, nil)
			if err != nil {
				http.Error(rw, err.Error(), 500)
				return
			}
			var out []*consulapi.CatalogService
			for _, s := range stubs {
				if s.ClientStatus == nomadapi.AllocClientStatusRunning {
					out = append(out, &consulapi.CatalogService{ServiceID: "_nomad-task-" + s.ID + "-web-http", ServiceAddress: host, ServicePort: portN})
				}
			}
			_ = json.NewEncoder(rw).Encode(out)
		default:
			http.NotFound(rw, r)
		}
	}))
	t.Cleanup(consul.Close)
	cfg := consulapi.DefaultConfig()
	cfg.Address = consul.Listener.Addr().String()
	var err error
	if w.consul, err = consulapi.NewClient(cfg); err != nil {
		t.Fatal(err)
	}

	hook := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var ev notify.Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		w.mu.Lock()
		w.sent = append(w.sent, ev)
		w.mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	n := notify.New(st.Notifiers, notify.EnvResolver{Getenv: func(k string) string {
		if k == "HOOK_URL" {
			return hook.URL
		}
		return ""
	}}, hook.Client())
	w.dp = &Deployer{Nomad: w.nomad, Consul: w.consul, Notifier: n, DeployedBy: "tester", UI: mustUI(t, "http://nomad.example")}
	return w
}

func (w *world) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	w.t.Cleanup(cancel)
	return ctx
}

func (w *world) job(app, version string) *render.Job {
	w.t.Helper()
	jobs, err := render.Render(w.st, render.Options{Version: version})
	if err != nil {
		w.t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Name == app {
			return j
		}
	}
	w.t.Fatalf("no job %s", app)
	return nil
}

func (w *world) deploy(app, version string) rollout.Result {
	w.t.Helper()
	res, err := w.dp.Deploy(w.ctx(), w.st, w.job(app, version))
	if err != nil {
		w.t.Fatalf("deploy %s %s: %v", app, version, err)
	}
	return res
}

// notified returns "type version" of the notifications sent since the
// last call.
func (w *world) notified() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, e := range w.sent {
		out = append(out, string(e.Type)+" "+e.Version)
		if e.URL != "" && !(strings.HasPrefix(e.URL, "http://nomad.example/ui/jobs/") && strings.HasSuffix(e.URL, "/deployments")) {
			w.t.Errorf("notification link %s", e.URL)
		}
	}
	w.sent = nil
	return strings.Join(out, ", ")
}

func (w *world) tag() string {
	vs := w.fake.Jobs("web")
	if t := vs[len(vs)-1].VersionTag; t != nil {
		return t.Name + ": " + t.Description
	}
	return ""
}

func TestDeployGatesCanariesAndNotifies(t *testing.T) {
	w := newWorld(t)
	var notes []string
	w.dp.Report = func(format string, args ...any) { notes = append(notes, fmt.Sprintf(format, args...)) }
	if res := w.deploy("web", "1.0"); res.Outcome != rollout.Succeeded {
		t.Fatalf("1.0: %s", res.Outcome)
	}
	if got := w.notified(); got != "started 1.0" {
		t.Errorf("notified %q", got)
	}
	if res := w.deploy("web", "2.0"); res.Outcome != rollout.Succeeded {
		t.Fatalf("2.0: %s", res.Outcome)
	}
	if got := w.notified(); got != "started 2.0, step 2.0, promoted 2.0" {
		t.Errorf("notified %q", got)
	}
	if got := w.tag(); got != "release-2.0: 2.0 released by tester with hstack (canary)" {
		t.Errorf("tag %q", got)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "smoke test ping on 127.0.0.1:") {
		t.Errorf("reported %v", notes)
	}
	// The gate's findings are kept for `hstack status` elsewhere.
	st, err := rollout.CurrentStatus(w.ctx(), w.nomad, "web")
	if err != nil || len(st.Gate) == 0 {
		t.Errorf("status gate notes %v, %v", st.Gate, err)
	}

	w.pong.Store("boom")
	if res := w.deploy("web", "3.0"); res.Outcome != rollout.RolledBack {
		t.Fatalf("3.0 with a failing smoke test: %s", res.Outcome)
	}
	if got := w.notified(); got != "started 3.0, step 3.0, failed 3.0, rolled-back 3.0" {
		t.Errorf("notified %q", got)
	}
}

func TestPromoteAbortRollbackNotifyLikeDeploy(t *testing.T) {
	w := newWorld(t)
	w.deploy("web", "1.0")
	w.deploy("web", "2.0")
	off := false
	w.dp.AutoPromote, w.dp.Detach = &off, true
	if res := w.deploy("web", "3.0"); res.Outcome != rollout.Waiting {
		t.Fatalf("3.0: %s", res.Outcome)
	}
	w.notified()
	w.dp.AutoPromote, w.dp.Detach = nil, false
	res, err := w.dp.Promote(w.ctx(), w.st, "web")
	if err != nil || res.Outcome != rollout.Succeeded {
		t.Fatalf("promote: %s, %v", res.Outcome, err)
	}
	if got := w.notified(); got != "promoted 3.0" {
		t.Errorf("promote notified %q", got)
	}
	if got := w.tag(); got != "release-3.0: 3.0 promoted by tester with hstack" {
		t.Errorf("tag %q", got)
	}

	w.dp.AutoPromote, w.dp.Detach = &off, true
	w.deploy("web", "4.0")
	w.notified()
	res, err = w.dp.Abort(w.ctx(), w.st, "web")
	if err != nil || res.Outcome != rollout.RolledBack {
		t.Fatalf("abort: %s, %v", res.Outcome, err)
	}
	if got := w.notified(); got != "failed 4.0, rolled-back 4.0" {
		t.Errorf("abort notified %q", got)
	}

	res, err = w.dp.Rollback(w.ctx(), w.st, "web", rollout.RollbackTo{Tag: "release-2.0"})
	if err != nil || res.Outcome != rollout.RolledBack {
		t.Fatalf("rollback: %s, %v", res.Outcome, err)
	}
	// The target's canaries are promoted: the operator chose the version.
	if got := w.notified(); got != "promoted 2.0, rolled-back 2.0" {
		t.Errorf("rollback notified %q", got)
	}
	// Without a stack file there is nobody to notify, and it still works.
	if _, err := w.dp.Promote(w.ctx(), nil, "web"); !errors.Is(err, rollout.ErrNoActiveDeployment) {
		t.Errorf("promote with nothing in flight: %v", err)
	}
	if got := w.notified(); got != "" {
		t.Errorf("notified %q without a stack", got)
	}
}

func TestDeploySteppedAndInfrastructure(t *testing.T) {
	w := newWorld(t)
	if res := w.deploy("stepped", "1.0"); res.Outcome != rollout.Succeeded {
		t.Fatalf("1.0: %s", res.Outcome)
	}
	// Steps without analyses are judged on health; auto-promoted because
	// the rollout is gated by its steps.
	if res := w.deploy("stepped", "2.0"); res.Outcome != rollout.Succeeded {
		t.Fatalf("2.0: %s", res.Outcome)
	}
	vs := w.fake.Jobs("stepped")
	if cur := vs[len(vs)-1]; len(cur.TaskGroups) != 1 || cur.TaskGroups[0].Tasks[0].Config["command"] == nil {
		t.Errorf("final job %+v", cur.TaskGroups)
	}

	infra := &render.Job{Name: "ingress", Kind: render.KindIngress, Job: w.job("web", "1.0").Job}
	infra.Job.ID, infra.Job.Name = ptr("ingress"), ptr("ingress")
	res, err := w.dp.Deploy(w.ctx(), w.st, infra)
	if err != nil || res.Outcome != rollout.Succeeded {
		t.Errorf("infrastructure job: %s, %v", res.Outcome, err)
	}
	if _, err := w.dp.Deploy(w.ctx(), w.st, &render.Job{Name: "ghost", Kind: render.KindApp, Job: infra.Job}); err == nil {
		t.Error("an app not in the stack was released")
	}
}

func TestGateVerdicts(t *testing.T) {
	w := newWorld(t)
	w.deploy("web", "1.0")
	app := w.st.App("web")
	d, _, err := w.nomad.Jobs().LatestDeployment("web", nil) // the first release: no canaries
	if err != nil {
		t.Fatal(err)
	}
	g := &Gate{Nomad: w.nomad, Consul: w.consul, App: app, Smoke: app.Rollout.SmokeTests}
	if v, msg, err := g.Check(w.ctx(), d); err != nil || v != rollout.Inconclusive || !strings.Contains(msg, "no running canary") {
		t.Errorf("no canaries: %s %q %v", v, msg, err)
	}
	// A canary group's allocations from an earlier step's deployment.
	g.CanaryGroup = "web"
	v, msg, err := g.Check(w.ctx(), d)
	if err != nil || v != rollout.Pass || !strings.Contains(msg, "2 canaries healthy, 1 smoke test(s) passed") {
		t.Errorf("group canaries: %s %q %v", v, msg, err)
	}
	g.Analyses = []*stackfile.Analysis{{Name: "error-rate"}}
	if _, _, err := g.Check(w.ctx(), d); err == nil || !strings.Contains(err.Error(), "needs Prometheus") {
		t.Errorf("analysis without Prometheus: %v", err)
	}
	w.fake.Break("GET", `/deployment/allocations/`, 0)
	if _, _, err := g.Check(w.ctx(), d); err == nil {
		t.Error("a Nomad failure passed the gate")
	}
}

func TestPreflight(t *testing.T) {
	w := newWorld(t)
	vaultState := atomic.Value{}
	vaultState.Store(`{"initialized":true,"sealed":false}`)
	vault := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/sys/health" {
			fmt.Fprint(rw, vaultState.Load())
			return
		}
		http.Error(rw, `{"errors":["permission denied"]}`, http.StatusForbidden)
	}))
	defer vault.Close()
	vcfg := vaultapi.DefaultConfig()
	vcfg.Address = vault.URL
	vcfg.MaxRetries = 0
	vc, err := vaultapi.NewClient(vcfg)
	if err != nil {
		t.Fatal(err)
	}
	vc.ClearToken()
	ready := atomic.Int32{}
	ready.Store(200)
	prom := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		rw.WriteHeader(int(ready.Load()))
	}))
	defer prom.Close()

	var notes []string
	p := Preflight{Nomad: w.nomad, Consul: w.consul, Vault: vc, Prometheus: prom.URL,
		Note: func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }}
	if probs := p.Run(w.ctx()); len(probs) != 0 {
		t.Fatalf("all up: %v", probs)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "no Vault token") {
		t.Errorf("notes %v", notes)
	}

	// With a token, the credential chain is read, and a denial is a
	// problem with the check named.
	vc.SetToken("t")
	probs := p.Run(w.ctx())
	if len(probs) == 0 || probs[0].Service != "vault" || !strings.Contains(probs[0].Check, "workload identity: vault reachable") {
		t.Errorf("denied chain: %v", probs)
	}
	vc.ClearToken()

	vaultState.Store(`{"initialized":true,"sealed":true}`)
	ready.Store(503)
	w.fake.Break("GET", `^/v1/jobs$`, 0)
	probs = p.Run(w.ctx())
	var got []string
	for _, pr := range probs {
		got = append(got, pr.Service+" "+pr.Check)
	}
	if fmt.Sprint(got) != "[nomad reachable vault unsealed prometheus ready]" {
		t.Errorf("problems %v", probs)
	}
	for _, pr := range probs {
		if pr.Service == "vault" && !strings.Contains(pr.String(), "vault operator unseal") {
			t.Errorf("no fix given: %s", pr)
		}
	}
	vault.Close()
	if probs := (Preflight{Nomad: w.fake.Client(), Vault: vc}).Run(w.ctx()); len(probs) < 2 || probs[1].Check != "reachable" {
		t.Errorf("vault down: %v", probs)
	}
	_ = jobmeta.Version
}

func TestGateAnalysesUnderLoad(t *testing.T) {
	w := newWorld(t)
	w.deploy("web", "1.0")
	var value atomic.Value
	value.Store("1")
	prom := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// The gate's scrape check counts series per canary; an analysis
		// wants one.
		_ = r.ParseForm()
		series := fmt.Sprintf(`{"metric":{},"value":[1700000000,%q]}`, value.Load())
		if strings.Contains(r.Form.Get("query"), "count_over_time") {
			series = `{"metric":{"alloc_id":"a"},"value":[1700000000,"2"]},{"metric":{"alloc_id":"b"},"value":[1700000000,"2"]}`
		}
		fmt.Fprint(rw, `{"status":"success","data":{"resultType":"vector","result":[`+series+`]}}`)
	}))
	defer prom.Close()
	runner, err := analysis.NewRunner(prom.URL)
	if err != nil {
		t.Fatal(err)
	}
	app := w.st.App("web")
	d, _, err := w.nomad.Jobs().LatestDeployment("web", nil)
	if err != nil {
		t.Fatal(err)
	}
	canary := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) { fmt.Fprint(rw, "pong") }))
	defer canary.Close()
	var notes []string
	g := &Gate{Nomad: w.nomad, Consul: w.consul, Runner: runner, App: app, CanaryGroup: "web",
		Load:     &stackfile.LoadTest{URL: canary.URL, Rate: 20, Timeout: time.Second},
		Analyses: []*stackfile.Analysis{{Name: "success", Query: "up", Interval: time.Millisecond, Count: 2, Min: ptr(0.9)}},
		Report:   func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }}
	v, msg, err := g.Check(w.ctx(), d)
	if err != nil || v != rollout.Pass || !strings.Contains(msg, "analyses passed: success") {
		t.Fatalf("%s %q %v", v, msg, err)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"Prometheus is scraping all 2 canaries", "load test: 20 requests/s", "analysis success: "} {
		if !strings.Contains(all, want) {
			t.Errorf("notes lack %q:\n%s", want, all)
		}
	}
	value.Store("0.5")
	if v, msg, err := g.Check(w.ctx(), d); err != nil || v != rollout.Fail || !strings.Contains(msg, "analysis success failed") {
		t.Errorf("a failing analysis: %s %q %v", v, msg, err)
	}
}

func ptr[T any](v T) *T { return &v }

func TestDeployAllLetsOthersFinishOrFailsFast(t *testing.T) {
	w := newWorld(t)
	w.fake.Behave(func(j *nomadapi.Job, _ string) nomadfake.Health { return nomadfake.Health{Unhealthy: *j.ID == "web"} })
	jobs := []*render.Job{w.job("web", "1.0"), w.job("stepped", "1.0")}
	var got []string
	for _, o := range w.dp.DeployAll(w.ctx(), w.st, jobs, 2, false) {
		got = append(got, fmt.Sprintf("%s=%s/%v/%v", o.Job, o.Result.Outcome, o.Err, o.Skipped))
	}
	if fmt.Sprint(got) != "[web=failed/<nil>/false stepped=succeeded/<nil>/false]" {
		t.Errorf("outcomes %v", got)
	}
	w.fake.Behave(func(j *nomadapi.Job, _ string) nomadfake.Health { return nomadfake.Health{Unhealthy: *j.ID == "web"} })
	got = nil
	for _, o := range w.dp.DeployAll(w.ctx(), w.st, []*render.Job{w.job("web", "2.0"), w.job("stepped", "2.0")}, 1, true) {
		got = append(got, fmt.Sprintf("%s=%v", o.Job, o.Skipped))
	}
	if fmt.Sprint(got) != "[web=false stepped=true]" {
		t.Errorf("fail-fast outcomes %v", got)
	}
}

func mustUI(t *testing.T, addr string) nomadui.Links {
	t.Helper()
	ui, err := nomadui.New(addr, "")
	if err != nil {
		t.Fatal(err)
	}
	return ui
}

// TestPreflightACL: the token checks, at the transport. An allowed token
// passes; a refused one is a problem naming the capability, the policy,
// and whether a token was given; an unreachable service is told apart
// from a refusal; and none of the probes registers or writes anything.
func TestPreflightACL(t *testing.T) {
	consulKV := func(t *testing.T, status int) *consulapi.Client {
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/v1/status/leader":
				fmt.Fprint(rw, `"127.0.0.1:8300"`)
			case strings.HasPrefix(r.URL.Path, "/v1/kv/") && r.Method == http.MethodPut:
				if status != 200 {
					http.Error(rw, "Permission denied: token lacks permission 'key:write'", status)
					return
				}
				fmt.Fprint(rw, "false") // the check-and-set never succeeds
			default:
				http.NotFound(rw, r)
			}
		}))
		t.Cleanup(srv.Close)
		cfg := consulapi.DefaultConfig()
		cfg.Address = srv.Listener.Addr().String()
		c, err := consulapi.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	for _, c := range []struct {
		name        string
		breakMethod string
		breakPath   string
		status      int
		consul      int
		token       bool
		want        string // "service check" of the one problem; "" none
		detail      []string
	}{
		{name: "allowed", consul: 200, token: true},
		{name: "no token", breakMethod: "GET", breakPath: `^/v1/jobs$`, status: 403, consul: 200,
			want: "nomad acl: list-jobs", detail: []string{"no token (NOMAD_TOKEN is not set", "policies/nomad/deployer.hcl"}},
		{name: "readonly", breakMethod: "PUT", breakPath: `/plan$`, status: 403, consul: 200, token: true,
			want: "nomad acl: submit-job", detail: []string{"the token in NOMAD_TOKEN", "it needs capability submit-job in namespace \"default\"", "job web"}},
		{name: "no variables rule", breakMethod: "GET", breakPath: `^/v1/var/`, status: 403, consul: 200, token: true,
			want: "nomad acl: variables", detail: []string{"hstack/releases/web", `"hstack/releases/*"`}},
		{name: "consul denied", consul: 403, token: true,
			want: "consul acl: key_prefix write", detail: []string{`key_prefix "hstack/shop/"`, "policies/consul/hstack.hcl"}},
		{name: "nomad failing", breakMethod: "GET", breakPath: `^/v1/jobs$`, status: 500, consul: 200, token: true,
			want: "nomad reachable", detail: []string{"is Nomad running"}},
		{name: "nomad unavailable", breakMethod: "GET", breakPath: `^/v1/jobs$`, status: 503, consul: 200, token: true,
			want: "nomad reachable"},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t)
			if c.breakPath != "" {
				w.fake.Break(c.breakMethod, c.breakPath, c.status)
			}
			p := Preflight{Nomad: w.nomad, Consul: consulKV(t, c.consul), Jobs: []*nomadapi.Job{w.job("web", "1.0").Job},
				KVPrefix: "hstack/shop/", NomadToken: c.token, ConsulToken: true}
			probs := p.Run(w.ctx())
			var got []string
			for _, pr := range probs {
				got = append(got, pr.Service+" "+pr.Check)
			}
			if c.want == "" {
				if len(probs) != 0 {
					t.Fatalf("problems %v", probs)
				}
				if reqs := strings.Join(w.fake.Requests(), "\n"); !strings.Contains(reqs, "PUT /v1/job/web/plan") || !strings.Contains(reqs, "GET /v1/var/hstack/releases/web") {
					t.Errorf("the probes were not made:\n%s", reqs)
				}
			} else if len(probs) != 1 || got[0] != c.want {
				t.Fatalf("problems %v, want one %q", probs, c.want)
			}
			for _, d := range c.detail {
				if !strings.Contains(probs[0].Detail, d) {
					t.Errorf("%q lacks %q", probs[0].Detail, d)
				}
			}
			for _, r := range w.fake.Requests() {
				if strings.HasPrefix(r, "PUT /v1/jobs") || strings.HasPrefix(r, "PUT /v1/var/") || strings.HasPrefix(r, "POST ") {
					t.Errorf("preflight changed something: %s", r)
				}
			}
		})
	}
}

// A release --fail-fast stops at the moment its deployment succeeded on
// its own has nothing left to abort: its version is live, and the outcome
// says so. One whose version never got a successful deployment is reported
// aborted.
func TestStoppedReleaseThatFinishedIsNotCalledAborted(t *testing.T) {
	w := newWorld(t)
	w.deploy("web", "1.0.0")
	if res := w.deploy("web", "1.1.0"); res.Outcome != rollout.Succeeded {
		t.Fatalf("1.1.0: %s", res.Outcome)
	}
	res, err := w.dp.stopped(w.ctx(), w.st, w.job("web", "1.1.0"), rollout.Result{Job: "web"})
	if err != nil || res.Outcome != rollout.Succeeded || res.DeploymentID == "" {
		t.Errorf("finished release: %s %q, %v; want succeeded with its deployment", res.Outcome, res.DeploymentID, err)
	}
	res, err = w.dp.stopped(w.ctx(), w.st, w.job("web", "1.2.0"), rollout.Result{Job: "web"})
	if !errors.Is(err, errAbortedByFailFast) || res.Outcome == rollout.Succeeded {
		t.Errorf("release never deployed: %s, %v; want aborted", res.Outcome, err)
	}
}
