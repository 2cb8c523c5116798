package rollout_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

// A release whose template cannot render says so as soon as Nomad reports
// the task event, long before its healthy deadline: here the deadline is
// five minutes, and the operator (the sink) aborts when the reason shows.
func TestStuckReleaseSaysWhyAtOnce(t *testing.T) {
	r := newReleaser(t)
	if res, _ := r.deploy(r.job(jobOpts{version: "1", count: 1}), rollout.Options{}); res.Outcome != rollout.Succeeded {
		t.Fatalf("first release: %s", res.Outcome)
	}
	job := r.job(jobOpts{version: "2", count: 1, canary: 1})
	tg := job.TaskGroups[0]
	tg.Update.HealthyDeadline = ptr(5 * time.Minute)
	tg.Update.ProgressDeadline = ptr(10 * time.Minute)
	tg.Tasks[0].Templates = append(tg.Tasks[0].Templates, &nomadapi.Template{
		EmbeddedTmpl: ptr(`{{ key "hstack-test/never-written" }}`),
		DestPath:     ptr("local/never.txt"),
	})

	var mu sync.Mutex
	var reason string
	var reasonAt time.Time
	var statusAtReason string
	nomad := r.nomad
	opts := rollout.Options{AutoPromote: true, Sink: rollout.SinkFunc(func(e rollout.Event) {
		t.Logf("%s %s %s", e.Type, e.Status, firstLine(e.Message))
		if e.Type != rollout.EventTaskEvent || !strings.Contains(e.Message, "Missing: kv.block(hstack-test/never-written)") {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if reason != "" {
			t.Errorf("reason shown again: %s", e.Message)
			return
		}
		reason, reasonAt = e.Message, time.Now()
		d, _, err := nomad.Deployments().Info(e.DeploymentID, nil)
		if err == nil {
			statusAtReason = d.Status
		}
		go func() {
			if _, _, err := nomad.Deployments().Fail(e.DeploymentID, nil); err != nil {
				t.Errorf("abort: %v", err)
			}
		}()
	})}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	res, err := rollout.Deploy(ctx, nomad, job, opts)
	if err != nil {
		t.Fatalf("deploy: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if reason == "" {
		t.Fatalf("no task event reason shown; outcome %s", res.Outcome)
	}
	t.Logf("reason after %v: %s", reasonAt.Sub(start).Round(time.Second), reason)
	if statusAtReason != nomadapi.DeploymentStatusRunning {
		t.Errorf("the reason came with the deployment %q, want while it was still running", statusAtReason)
	}
	if res.Outcome != rollout.RolledBack {
		t.Errorf("outcome %s, want rolled-back after the abort", res.Outcome)
	}
}
