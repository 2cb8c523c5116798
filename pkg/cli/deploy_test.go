package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/nomadfake"
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
	worst := appOutcome{}
	for _, o := range []appOutcome{{Job: "x", Result: rollout.Result{Outcome: rollout.Succeeded}}, {Job: "y", Err: &rollout.ClusterError{Op: "plan", Err: errors.New("down")}}} {
		if o.code() > worst.code() {
			worst = o
		}
	}
	if worst.code() != ExitUnreachable || !strings.Contains(worst.exitError().Error(), "y: nomad plan: down") {
		t.Errorf("worst %v", worst.exitError())
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
