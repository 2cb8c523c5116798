package rollout_test

import (
	"context"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

// BenchmarkCanaryRelease measures, on a real dev stack and in the same run:
//   - the wall time of a canary release driven by hstack (health gate, API
//     promotion) against the same job released by Nomad alone with
//     auto_promote (hstack-vs-nomad ratio),
//   - the time from canaries healthy to the rollback completing, for a
//     canary its gate fails,
//   - the Nomad API requests hstack made per release.
//
// Run with `make bench` (go test -bench); it is not a timed test.
func BenchmarkCanaryRelease(b *testing.B) {
	r := newReleaser(b)
	if res, _ := r.deploy(r.job(jobOpts{version: "0", count: 2}), rollout.Options{}); res.Outcome != rollout.Succeeded {
		b.Fatalf("baseline: %s", res.Outcome)
	}
	var hstackTime, nomadTime, rollbackTime time.Duration
	var requests int
	v := 0
	next := func() string { v++; return string(rune('a'+v%26)) + time.Now().Format("150405.000") }
	for i := 0; i < b.N; i++ {
		start := time.Now()
		res, _ := r.deploy(r.job(jobOpts{version: next(), count: 2, canary: 1}), rollout.Options{AutoPromote: true,
			Gate: gateFunc(func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error) {
				return rollout.Pass, "ok", nil
			})})
		hstackTime += time.Since(start)
		requests += res.Requests
		if res.Outcome != rollout.Succeeded {
			b.Fatalf("hstack release: %s", res.Outcome)
		}

		// The same release by Nomad alone: auto_promote, watched by polling
		// the job's latest deployment (as `nomad job run` does).
		job := r.job(jobOpts{version: next(), count: 2, canary: 1})
		job.TaskGroups[0].Update.AutoPromote = ptr(true)
		start = time.Now()
		if _, _, err := r.nomad.Jobs().Register(job, nil); err != nil {
			b.Fatal(err)
		}
		for {
			d, _, err := r.nomad.Jobs().LatestDeployment("pingapp", nil)
			if err != nil {
				b.Fatal(err)
			}
			if d != nil && d.Status == nomadapi.DeploymentStatusSuccessful && d.JobVersion == *mustInfo(b, r).Version {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		nomadTime += time.Since(start)

		var healthy time.Time
		failing := gateFunc(func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error) {
			healthy = time.Now()
			return rollout.Fail, "bad canary", nil
		})
		res, _ = r.deploy(r.job(jobOpts{version: next(), count: 2, canary: 1}), rollout.Options{AutoPromote: true, Gate: failing})
		if res.Outcome != rollout.RolledBack {
			b.Fatalf("bad canary: %s", res.Outcome)
		}
		rollbackTime += time.Since(healthy)
	}
	n := float64(b.N)
	b.ReportMetric(hstackTime.Seconds()/n, "s/hstack-release")
	b.ReportMetric(nomadTime.Seconds()/n, "s/nomad-release")
	b.ReportMetric(hstackTime.Seconds()/nomadTime.Seconds(), "hstack/nomad")
	b.ReportMetric(rollbackTime.Seconds()/n, "s/healthy-to-rolled-back")
	b.ReportMetric(float64(requests)/n, "nomad-requests/release")
}

func mustInfo(b *testing.B, r *releaser) *nomadapi.Job {
	j, _, err := r.nomad.Jobs().Info("pingapp", nil)
	if err != nil {
		b.Fatal(err)
	}
	return j
}
