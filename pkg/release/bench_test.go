package release

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/reqcount"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

const benchApps = 10

// BenchmarkReleaseTenApps measures, on a real dev stack and in the same
// run, the wall time of releasing 10 apps with one canary each through
// DeployAll (all at once) against releasing one app the same way; the goal
// is a ratio under 2. Run with `make bench`; it is not a timed test. The
// rollouts auto-promote: without a gate, a canary otherwise waits for a
// human, and the benchmark with it.
func BenchmarkReleaseTenApps(b *testing.B) {
	if testing.Short() {
		b.Skip("boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(b)
	nomad, err := nomadapi.NewClient(&nomadapi.Config{Address: s.NomadAddr(), HttpClient: reqcount.Wrap(cleanhttp.DefaultPooledClient())})
	if err != nil {
		b.Fatal(err)
	}
	var src strings.Builder
	src.WriteString("stack \"bench\" {}\n")
	for i := range benchApps {
		fmt.Fprintf(&src, "app \"app%d\" {\n  driver = \"raw_exec\"\n  command = \"/bin/sh\"\n  count = 1\n  port \"http\" {}\n  rollout {\n    strategy = \"canary\"\n    canary = 1\n    auto_promote = true\n  }\n}\n", i)
	}
	st, diags := stackfile.Parse([]byte(src.String()), "bench.hcl", stackfile.LoadOptions{})
	if diags.HasErrors() {
		b.Fatal(diags)
	}
	jobs := func(version string, n int) []*render.Job {
		var out []*render.Job
		for i := range n {
			out = append(out, &render.Job{Name: fmt.Sprintf("app%d", i), Kind: render.KindApp, Job: sleeper(fmt.Sprintf("app%d", i), version)})
		}
		return out
	}
	dp := &Deployer{Nomad: nomad, DeployedBy: "bench"}
	release := func(version string, n int) time.Duration {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		start := time.Now()
		for _, o := range dp.DeployAll(ctx, st, jobs(version, n), benchApps, false) {
			if o.Err != nil || o.Result.Outcome != rollout.Succeeded {
				b.Fatalf("%s %s: %s, %v", o.Job, version, o.Result.Outcome, o.Err)
			}
		}
		return time.Since(start)
	}
	release("v0", benchApps)
	b.ResetTimer()
	var one, all time.Duration
	for i := 0; i < b.N; i++ {
		one += release(fmt.Sprintf("one%d", i), 1)
		all += release(fmt.Sprintf("all%d", i), benchApps)
	}
	b.ReportMetric(one.Seconds()/float64(b.N), "s/one-app")
	b.ReportMetric(all.Seconds()/float64(b.N), "s/10-apps")
	b.ReportMetric(float64(all)/float64(one), "ten-vs-one")
}

// sleeper is a job with one group whose task sleeps: what is measured is
// the release, not an app's start-up.
func sleeper(id, version string) *nomadapi.Job {
	j := nomadapi.NewServiceJob(id, id, "global", 50)
	j.Meta = map[string]string{"version": version}
	tg := nomadapi.NewTaskGroup(id, 1)
	t := nomadapi.NewTask(id, "raw_exec")
	t.Config = map[string]any{"command": "/bin/sh", "args": []string{"-c", "sleep 3600"}}
	t.Env = map[string]string{"VERSION": version}
	t.Resources = &nomadapi.Resources{CPU: ptr(20), MemoryMB: ptr(16)}
	t.KillTimeout = ptr(time.Second)
	tg.Tasks = []*nomadapi.Task{t}
	tg.Update = &nomadapi.UpdateStrategy{
		Canary: ptr(1), MaxParallel: ptr(1), HealthCheck: ptr("task_states"),
		MinHealthyTime: ptr(time.Second), HealthyDeadline: ptr(time.Minute), ProgressDeadline: ptr(2 * time.Minute),
		AutoRevert: ptr(true), AutoPromote: ptr(false),
	}
	j.TaskGroups = []*nomadapi.TaskGroup{tg}
	return j
}
