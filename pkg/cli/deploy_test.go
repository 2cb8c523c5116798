package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/nomadfake"
	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/release"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func TestSelectJobs(t *testing.T) {
	jobs := []*render.Job{
		{Name: "web", Kind: render.KindApp}, {Name: "ingress", Kind: render.KindIngress},
		{Name: "api", Kind: render.KindApp}, {Name: "monitoring", Kind: render.KindMonitoring},
	}
	names := func(js []*render.Job) string {
		var out []string
		for _, j := range js {
			out = append(out, j.Name)
		}
		return strings.Join(out, ",")
	}
	got, err := selectJobs(jobs, nil)
	if err != nil || names(got) != "ingress,monitoring,web,api" {
		t.Errorf("all: %s, %v", names(got), err)
	}
	got, err = selectJobs(jobs, []string{"api", "ingress"})
	if err != nil || names(got) != "api,ingress" {
		t.Errorf("named: %s, %v", names(got), err)
	}
	_, err = selectJobs(jobs, []string{"nope"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != ExitUsage || !strings.Contains(err.Error(), "have: web, ingress, api, monitoring") {
		t.Errorf("unknown: %v", err)
	}
}

const manyApps = `
stack "shop" {}
app "a" {
  driver  = "raw_exec"
  command = "/bin/a"
  port "http" {}
}
app "b" {
  driver  = "raw_exec"
  command = "/bin/b"
  port "http" {}
}
app "c" {
  driver  = "raw_exec"
  command = "/bin/c"
  port "http" {}
}
`

func TestReleaseAppsConcurrently(t *testing.T) {
	st, diags := stackfile.Parse([]byte(manyApps), "hstack.hcl", stackfile.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	jobs, err := render.Render(st, render.Options{Version: "1"})
	if err != nil {
		t.Fatal(err)
	}
	run := func(parallel int, failFast bool) string {
		fake := nomadfake.New()
		fake.Behave(func(j *nomadapi.Job, _ string) nomadfake.Health { return nomadfake.Health{Unhealthy: *j.ID == "a"} })
		dp := &release.Deployer{Nomad: fake.Client(), Report: func(string, ...any) {}}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var out []string
		for _, o := range releaseApps(ctx, dp, st, jobs, parallel, failFast) {
			out = append(out, fmt.Sprintf("%s=%s/%d", o.Job, o.status(), o.code()))
		}
		return strings.Join(out, " ")
	}
	// A failure does not stop the others; every app has an outcome.
	if got := run(2, false); got != "a=failed/1 b=succeeded/0 c=succeeded/0" {
		t.Errorf("parallel 2: %s", got)
	}
	// --fail-fast: nothing more starts after the failure.
	if got := run(1, true); got != "a=failed/1 b=skipped/1 c=skipped/1" {
		t.Errorf("fail-fast: %s", got)
	}
	w := worst([]appOutcome{{Job: "x", Result: rollout.Result{Outcome: rollout.Succeeded}}, {Job: "y", Err: &rollout.ClusterError{Op: "plan", Err: errors.New("down")}}})
	if w.code() != ExitUnreachable || !strings.Contains(w.exitError().Error(), "y: nomad plan: down") {
		t.Errorf("worst %v", w.exitError())
	}
}

// inFlight releases version 1 of manyApps' a, b and c, then version 2 at
// --parallel 2: a fails (and is rolled back) while b's deployment runs,
// and c waits for a slot. b's allocations turn healthy only once a's
// rollback is under way (never, with failFast: it is to be aborted), so b
// is surely in flight when a fails.
func inFlight(t *testing.T, failFast bool) (*nomadfake.Fake, []appOutcome) {
	t.Helper()
	st, diags := stackfile.Parse([]byte(manyApps), "hstack.hcl", stackfile.LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	apps := func(version string) []*render.Job {
		jobs, err := render.Render(st, render.Options{Version: version})
		if err != nil {
			t.Fatal(err)
		}
		_, apps := splitInfra(jobs)
		return apps
	}
	fake := nomadfake.New()
	dp := &release.Deployer{Nomad: fake.Client(), Report: func(string, ...any) {}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, o := range releaseApps(ctx, dp, st, apps("1"), 3, false) {
		if o.code() != ExitOK {
			t.Fatalf("version 1 of %s: %s %v", o.Job, o.status(), o.Err)
		}
	}
	var bPlaced, aReverting atomic.Bool
	fake.Behave(func(j *nomadapi.Job, _ string) nomadfake.Health {
		switch {
		case *j.ID == "a" && j.Meta["version"] == "2":
			return nomadfake.Health{Unhealthy: bPlaced.Load(), Pending: !bPlaced.Load()}
		case *j.ID == "a" && bPlaced.Load():
			aReverting.Store(true) // version 1 again: Nomad's auto-revert
		case *j.ID == "b" && j.Meta["version"] == "2":
			bPlaced.Store(true)
			return nomadfake.Health{Pending: failFast || !aReverting.Load()}
		}
		return nomadfake.Health{}
	})
	return fake, releaseApps(ctx, dp, st, apps("2"), 2, failFast)
}

func outcomeLine(outcomes []appOutcome) string {
	var got []string
	for _, o := range outcomes {
		got = append(got, fmt.Sprintf("%s=%s/%d", o.Job, o.status(), o.code()))
	}
	return strings.Join(got, " ")
}

// Without --fail-fast, a failure lets the releases in flight and those
// still waiting finish; the run still exits 1.
func TestReleaseAppsFailureLetsOthersFinish(t *testing.T) {
	fake, outcomes := inFlight(t, false)
	if got := outcomeLine(outcomes); got != "a=rolled-back/1 b=succeeded/0 c=succeeded/0" {
		t.Errorf("outcomes: %s", got)
	}
	for _, app := range []string{"b", "c"} {
		if vs := fake.Jobs(app); vs[len(vs)-1].Meta["version"] != "2" || !*vs[len(vs)-1].Stable {
			t.Errorf("%s: version %s, stable %v", app, vs[len(vs)-1].Meta["version"], *vs[len(vs)-1].Stable)
		}
	}
	if code := worst(outcomes).code(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

// With --fail-fast, b (in flight) is aborted in Nomad and its stable
// version comes back, c never starts, the summary has a line for each,
// and the run exits 1.
func TestReleaseAppsFailFastAbortsInFlight(t *testing.T) {
	fake, outcomes := inFlight(t, true)
	if got := outcomeLine(outcomes); got != "a=rolled-back/1 b=error/1 c=skipped/1" {
		t.Errorf("outcomes: %s", got)
	}
	if b := outcomes[1]; b.Err == nil || !strings.Contains(b.Err.Error(), "aborted: another app's release failed (--fail-fast)") {
		t.Errorf("b: %v", b.Err)
	}
	// In Nomad: b's deployment of version 2 was failed (not left running)
	// and version 1 is back; c was never registered again.
	for _, d := range fake.Deployments() {
		if d.JobID == "b" && d.Status == nomadapi.DeploymentStatusRunning {
			t.Errorf("b's deployment %s still running: %s", d.ID, d.StatusDescription)
		}
	}
	if vs := fake.Jobs("b"); vs[len(vs)-1].Meta["version"] != "1" {
		t.Errorf("b runs version %s after the abort", vs[len(vs)-1].Meta["version"])
	}
	if vs := fake.Jobs("c"); len(vs) != 1 {
		t.Errorf("c has %d versions; fail-fast should not have started it", len(vs))
	}

	var stdout bytes.Buffer
	if err := printOutcomes(&Output{Stdout: &stdout, Stderr: io.Discard}, nomadui.Links{}, outcomes, nil); err != nil {
		t.Fatal(err)
	}
	summary := stdout.String()
	for _, want := range []string{"a: rolled-back", "b: error: aborted: another app's release failed (--fail-fast)", "c: skipped"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	if code := worst(outcomes).code(); code != 1 {
		t.Errorf("exit code %d, want 1", code)
	}
}

// --strategy is checked against the rollouts before anything else: no
// cluster is contacted for a release that would drop part of a rollout.
func TestDeployStrategyOverrideIsValidated(t *testing.T) {
	t.Setenv("NOMAD_ADDR", "http://127.0.0.1:1") // nothing listens: must not be reached
	r := runApp(t, nil, "deploy", "-f", "../../hstack.hcl", "--strategy", "sideways")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `--strategy "sideways"`) {
		t.Errorf("sideways: exit %d\n%s", r.code, r.stderr)
	}
	r = runApp(t, nil, "deploy", "-f", "../../hstack.hcl", "--env", "dev", "--var", "pingapp_bin=/bin/true", "--strategy", "rolling")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "Load test without canaries (with --strategy rolling)") ||
		!strings.Contains(r.stderr, "Analysis without canaries (with --strategy rolling)") || !strings.Contains(r.stderr, "hstack.hcl:") {
		t.Errorf("rolling over a load test: exit %d\n%s", r.code, r.stderr)
	}
}
