package rollout_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/reqcount"
	"github.com/hstack-dev/hstack/pkg/rollout"
)

// releaser builds versions of the pingapp job (jobs/pingapp.nomad.hcl, as
// Nomad parses it) for one dev stack.
type releaser struct {
	t     testing.TB
	s     *devstack.Stack
	nomad *nomadapi.Client
	bin   string
	src   string
}

func newReleaser(t testing.TB) *releaser {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	// The engine counts its requests at the transport, as hstack's own
	// clients do.
	nomad, err := nomadapi.NewClient(&nomadapi.Config{Address: s.NomadAddr(), HttpClient: reqcount.Wrap(cleanhttp.DefaultPooledClient())})
	if err != nil {
		t.Fatal(err)
	}
	root, err := devstacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "jobs", "pingapp.nomad.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	return &releaser{t: t, s: s, nomad: nomad, bin: devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir), src: string(src)}
}

type jobOpts struct {
	version string
	count   int
	canary  int
	env     map[string]string
}

func (r *releaser) job(o jobOpts) *nomadapi.Job {
	r.t.Helper()
	vars := fmt.Sprintf("pingapp_bin = %q\nversion = %q\ncount = %d\ndatabase_port = %d\n", r.bin, o.version, o.count, r.s.Ports.Postgres)
	job, err := r.nomad.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: r.src, Variables: vars, Canonicalize: true})
	if err != nil {
		r.t.Fatal(err)
	}
	tg := job.TaskGroups[0]
	tg.Update = &nomadapi.UpdateStrategy{
		MaxParallel:      ptr(1),
		Canary:           ptr(o.canary),
		MinHealthyTime:   ptr(2 * time.Second),
		HealthyDeadline:  ptr(25 * time.Second),
		ProgressDeadline: ptr(60 * time.Second),
		AutoRevert:       ptr(true),
		AutoPromote:      ptr(false),
		HealthCheck:      ptr("checks"),
	}
	// Fail fast: a crashing release should not be restarted for long.
	tg.RestartPolicy = &nomadapi.RestartPolicy{Attempts: ptr(0), Mode: ptr("fail"), Interval: ptr(time.Minute), Delay: ptr(time.Second)}
	tg.ReschedulePolicy = &nomadapi.ReschedulePolicy{Attempts: ptr(0), Unlimited: ptr(false)}
	for k, v := range o.env {
		tg.Tasks[0].Env[k] = v
	}
	job.Update = nil
	return job
}

func ptr[T any](v T) *T { return &v }

func (r *releaser) deploy(job *nomadapi.Job, opts rollout.Options) (rollout.Result, []rollout.Event) {
	r.t.Helper()
	var mu sync.Mutex
	var events []rollout.Event
	opts.Sink = rollout.SinkFunc(func(e rollout.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
		r.t.Logf("%s %s v%d %s %s", e.Type, e.Status, e.JobVersion, groupsLine(e.Groups), firstLine(e.Message))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	res, err := rollout.Deploy(ctx, r.nomad, job, opts)
	if err != nil {
		r.t.Fatalf("deploy: %v", err)
	}
	return res, events
}

func groupsLine(gs []rollout.GroupStatus) string {
	var parts []string
	for _, g := range gs {
		parts = append(parts, fmt.Sprintf("[%s desired=%d placed=%d healthy=%d unhealthy=%d canaries=%d/%d]",
			g.Name, g.Desired, g.Placed, g.Healthy, g.Unhealthy, g.Canaries, g.DesiredCanaries))
	}
	return strings.Join(parts, " ")
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// versionsServing asks every passing pingapp instance in Consul which version
// it runs (service meta), and checks each answers /ping.
func (r *releaser) versionsServing() map[string]int {
	r.t.Helper()
	consul, err := r.s.ConsulClient()
	if err != nil {
		r.t.Fatal(err)
	}
	entries, _, err := consul.Health().Service("pingapp", "", true, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		resp, err := http.Get(fmt.Sprintf("http://%s:%d/ping", e.Service.Address, e.Service.Port))
		if err != nil {
			r.t.Errorf("instance %s: %v", e.Service.ID, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close() // the test has what it needs from the response
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "pong" {
			r.t.Errorf("instance %s: /ping = %d %q", e.Service.ID, resp.StatusCode, body)
		}
		out[e.Service.Meta["version"]]++
	}
	return out
}

func (r *releaser) runningAllocs() map[string]int {
	r.t.Helper()
	allocs, _, err := r.nomad.Jobs().Allocations("pingapp", false, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	out := map[string]int{}
	for _, a := range allocs {
		if a.ClientStatus == nomadapi.AllocClientStatusRunning && a.DesiredStatus == nomadapi.AllocDesiredStatusRun {
			out[fmt.Sprint(a.JobVersion)]++
		}
	}
	return out
}

type gateFunc func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error)

func (f gateFunc) Check(ctx context.Context, d *nomadapi.Deployment) (rollout.Verdict, string, error) {
	return f(ctx, d)
}

func hasEvent(events []rollout.Event, t rollout.EventType) bool {
	for _, e := range events {
		if e.Type == t {
			return true
		}
	}
	return false
}

func TestRollingThenCanaryReleases(t *testing.T) {
	r := newReleaser(t)

	res, _ := r.deploy(r.job(jobOpts{version: "1", count: 2}), rollout.Options{Tag: "release-1"})
	if res.Outcome != rollout.Succeeded {
		t.Fatalf("first release: %s", res.Outcome)
	}
	if got := r.versionsServing(); got["1"] != 2 {
		t.Fatalf("serving %v, want 2 instances of version 1", got)
	}

	t.Run("no change", func(t *testing.T) {
		res, _ := r.deploy(r.job(jobOpts{version: "1", count: 2}), rollout.Options{})
		if res.Outcome != rollout.NoChange {
			t.Fatalf("outcome %s, want no-change", res.Outcome)
		}
	})

	t.Run("rolling", func(t *testing.T) {
		res, _ := r.deploy(r.job(jobOpts{version: "2", count: 2}), rollout.Options{Tag: "release-2"})
		if res.Outcome != rollout.Succeeded {
			t.Fatalf("outcome %s", res.Outcome)
		}
		if got := r.runningAllocs(); len(got) != 1 || got[fmt.Sprint(res.JobVersion)] != 2 {
			t.Fatalf("running allocations by job version %v, want only 2 of version %d", got, res.JobVersion)
		}
	})

	t.Run("canary passes gate and is promoted", func(t *testing.T) {
		var checked bool
		gate := gateFunc(func(ctx context.Context, d *nomadapi.Deployment) (rollout.Verdict, string, error) {
			checked = true
			// Judged while the stable version still serves beside the canary.
			if got := r.versionsServing(); got["2"] != 2 || got["3"] != 1 {
				t.Errorf("during analysis serving %v, want 2 stable + 1 canary", got)
			}
			return rollout.Pass, "looks good", nil
		})
		res, events := r.deploy(r.job(jobOpts{version: "3", count: 2, canary: 1}), rollout.Options{Gate: gate, AutoPromote: true})
		if res.Outcome != rollout.Succeeded || !checked || !hasEvent(events, rollout.EventPromoted) {
			t.Fatalf("outcome %s, gate checked %v", res.Outcome, checked)
		}
		if got := r.runningAllocs(); len(got) != 1 || got[fmt.Sprint(res.JobVersion)] != 2 {
			t.Fatalf("running allocations %v, want only version %d", got, res.JobVersion)
		}
	})

	t.Run("canary failing its gate is rolled back", func(t *testing.T) {
		gate := gateFunc(func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error) {
			return rollout.Fail, "success rate 0.80 < 0.99", nil
		})
		res, events := r.deploy(r.job(jobOpts{version: "4", count: 2, canary: 1}), rollout.Options{Gate: gate, AutoPromote: true})
		if res.Outcome != rollout.RolledBack || !hasEvent(events, rollout.EventRolledBack) {
			t.Fatalf("outcome %s, want rolled-back", res.Outcome)
		}
		if got := r.versionsServing(); got["3"] != 2 || len(got) != 1 {
			t.Fatalf("after rollback serving %v, want version 3 only", got)
		}
	})

	t.Run("crash-looping canary is rolled back with inspection", func(t *testing.T) {
		res, _ := r.deploy(r.job(jobOpts{version: "5", count: 2, canary: 1, env: map[string]string{"FAULT_CRASH": "true"}}),
			rollout.Options{AutoPromote: true})
		if res.Outcome != rollout.RolledBack {
			t.Fatalf("outcome %s, want rolled-back", res.Outcome)
		}
		if len(res.Inspections) == 0 {
			t.Fatal("no failure inspection")
		}
		var stderr string
		for _, in := range res.Inspections {
			for _, task := range in.Tasks {
				stderr += task.Stderr
			}
		}
		if !strings.Contains(stderr, "FAULT_CRASH") {
			t.Errorf("inspection stderr does not show why the task crashed:\n%s", stderr)
		}
		if got := r.versionsServing(); got["3"] != 2 || len(got) != 1 {
			t.Fatalf("after rollback serving %v, want version 3 only", got)
		}
	})

	t.Run("blue-green", func(t *testing.T) {
		var blueDuringAnalysis int
		gate := gateFunc(func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error) {
			blueDuringAnalysis = r.versionsServing()["3"]
			return rollout.Pass, "green ok", nil
		})
		res, _ := r.deploy(r.job(jobOpts{version: "6", count: 2, canary: 2}), rollout.Options{Gate: gate, AutoPromote: true})
		if res.Outcome != rollout.Succeeded {
			t.Fatalf("outcome %s", res.Outcome)
		}
		if blueDuringAnalysis != 2 {
			t.Errorf("blue instances serving while green was judged: %d, want 2", blueDuringAnalysis)
		}
		if got := r.runningAllocs(); len(got) != 1 || got[fmt.Sprint(res.JobVersion)] != 2 {
			t.Fatalf("running allocations %v, want only green (version %d)", got, res.JobVersion)
		}
	})

	t.Run("detach waits for a human, second run attaches", func(t *testing.T) {
		job := r.job(jobOpts{version: "7", count: 2, canary: 1})
		res, _ := r.deploy(job, rollout.Options{Detach: true})
		if res.Outcome != rollout.Waiting {
			t.Fatalf("outcome %s, want waiting", res.Outcome)
		}
		res2, events := r.deploy(r.job(jobOpts{version: "7", count: 2, canary: 1}), rollout.Options{AutoPromote: true})
		if !hasEvent(events, rollout.EventAttached) {
			t.Error("second run did not attach to the in-flight deployment")
		}
		if res2.Outcome != rollout.Succeeded || res2.JobVersion != res.JobVersion {
			t.Fatalf("second run: %s version %d, want succeeded version %d", res2.Outcome, res2.JobVersion, res.JobVersion)
		}
	})

	t.Run("promote by hand", func(t *testing.T) {
		res, _ := r.deploy(r.job(jobOpts{version: "8", count: 2, canary: 1}), rollout.Options{Detach: true})
		if res.Outcome != rollout.Waiting {
			t.Fatalf("outcome %s, want waiting", res.Outcome)
		}
		pres, err := rollout.Promote(context.Background(), r.nomad, "pingapp", rollout.Options{})
		if err != nil || pres.Outcome != rollout.Succeeded {
			t.Fatalf("promote: %s, %v", pres.Outcome, err)
		}
		if got := r.versionsServing(); got["8"] != 2 || len(got) != 1 {
			t.Fatalf("serving %v, want version 8 only", got)
		}
	})

	t.Run("abort reverts", func(t *testing.T) {
		res, _ := r.deploy(r.job(jobOpts{version: "9", count: 2, canary: 1}), rollout.Options{Detach: true})
		if res.Outcome != rollout.Waiting {
			t.Fatalf("outcome %s, want waiting", res.Outcome)
		}
		ares, err := rollout.Abort(context.Background(), r.nomad, "pingapp", rollout.Options{})
		if err != nil || ares.Outcome != rollout.RolledBack {
			t.Fatalf("abort: %s, %v", ares.Outcome, err)
		}
		if got := r.versionsServing(); got["8"] != 2 || len(got) != 1 {
			t.Fatalf("serving %v, want version 8 only", got)
		}
		if _, err := rollout.Promote(context.Background(), r.nomad, "pingapp", rollout.Options{}); !errors.Is(err, rollout.ErrNoActiveDeployment) {
			t.Errorf("promote with nothing in flight: %v, want ErrNoActiveDeployment", err)
		}
	})

	t.Run("rollback to a tagged version and history", func(t *testing.T) {
		tagged, _, err := r.nomad.Jobs().VersionByTag("pingapp", "release-2", nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := rollout.Rollback(context.Background(), r.nomad, "pingapp", rollout.RollbackTo{Version: tagged.Version}, rollout.Options{})
		if err != nil || res.Outcome != rollout.RolledBack {
			t.Fatalf("rollback: %s, %v", res.Outcome, err)
		}
		if got := r.versionsServing(); got["2"] != 2 || len(got) != 1 {
			t.Fatalf("serving %v, want version 2 only", got)
		}
		hist, err := rollout.History(context.Background(), r.nomad, "pingapp")
		if err != nil {
			t.Fatal(err)
		}
		if hist[0].Version != res.JobVersion || hist[0].AppVersion != "2" || hist[0].Deployment != "successful" {
			t.Errorf("newest history entry %+v, want version %d of app version 2, successful", hist[0], res.JobVersion)
		}
		var sawTag, sawFailed bool
		for _, h := range hist {
			sawTag = sawTag || h.Tag == "release-2"
			sawFailed = sawFailed || h.Deployment == "failed"
		}
		if !sawTag || !sawFailed {
			t.Errorf("history lacks the release tag (%v) or a failed deployment (%v): %+v", sawTag, sawFailed, hist)
		}

		// Nomad reaps finished deployments (after an hour, or at once with
		// nomad#28210); history must keep their outcomes.
		if err := r.nomad.System().GarbageCollect(); err != nil {
			t.Fatal(err)
		}
		devstacktest.Eventually(t, time.Minute, "Nomad's GC to reap the failed deployments", func() error {
			deps, _, err := r.nomad.Jobs().Deployments("pingapp", true, nil)
			if err != nil {
				return err
			}
			for _, d := range deps {
				if d.Status == "failed" {
					return fmt.Errorf("deployment %s (version %d, failed) is still there", d.ID, d.JobVersion)
				}
			}
			return nil
		})
		after, err := rollout.History(context.Background(), r.nomad, "pingapp")
		if err != nil {
			t.Fatal(err)
		}
		for i := range hist {
			if after[i].Version != hist[i].Version || after[i].Deployment != hist[i].Deployment {
				t.Errorf("after Nomad's GC, version %d shows %q, before %q", after[i].Version, after[i].Deployment, hist[i].Deployment)
			}
		}
		st, err := rollout.CurrentStatus(context.Background(), r.nomad, "pingapp")
		if err != nil || st.JobVersion != res.JobVersion || st.Status != "successful" {
			t.Errorf("status %+v, %v", st, err)
		}
	})
}
