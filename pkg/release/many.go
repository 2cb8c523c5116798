package release

import (
	"context"
	"errors"
	"sync"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Outcome is how one job's release in DeployAll ended.
type Outcome struct {
	Job    string
	Result rollout.Result
	Err    error
	// Skipped: failFast stopped the run before this job started.
	Skipped bool
}

// failed tells an outcome that should stop a --fail-fast run.
func (o Outcome) failed() bool {
	if o.Err != nil || o.Skipped {
		return true
	}
	switch o.Result.Outcome {
	case rollout.Succeeded, rollout.NoChange, rollout.Waiting:
		return false
	}
	return true
}

// DeployAll releases jobs at most parallel at a time, each as Deploy does,
// with its gate reports prefixed by its name. A failure lets the others
// finish; with failFast it aborts those in flight (Nomad restores their
// stable versions) and starts no more. Every job gets an outcome, in the
// order given.
func (dp *Deployer) DeployAll(ctx context.Context, st *stackfile.Stack, jobs []*render.Job, parallel int, failFast bool) []Outcome {
	outcomes := make([]Outcome, len(jobs))
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	sem := make(chan struct{}, max(parallel, 1))
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed := false
	for i, j := range jobs {
		acquired := false
		select {
		case sem <- struct{}{}:
			acquired = true
		case <-runCtx.Done():
		}
		mu.Lock()
		skip := failed && failFast
		mu.Unlock()
		if skip || runCtx.Err() != nil {
			if acquired {
				<-sem
			}
			outcomes[i] = Outcome{Job: j.Name, Skipped: true}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			one := *dp
			if dp.Report != nil {
				one.Report = func(format string, args ...any) { dp.Report("%s: "+format, append([]any{j.Name}, args...)...) }
			}
			res, err := one.Deploy(runCtx, st, j)
			if err != nil && runCtx.Err() != nil && ctx.Err() == nil {
				// Stopped by failFast: leave nothing half-released.
				res, err = one.stopped(context.WithoutCancel(ctx), st, j, res)
			}
			o := Outcome{Job: j.Name, Result: res, Err: err}
			outcomes[i] = o
			if o.failed() {
				mu.Lock()
				failed = true
				mu.Unlock()
				if failFast {
					stop()
				}
			}
		}()
	}
	wg.Wait()
	return outcomes
}

var errAbortedByFailFast = errors.New("aborted: another app's release failed (--fail-fast)")

// stopped ends a release that --fail-fast cut short: its deployment is
// aborted, so that Nomad restores the stable version. A deployment that
// ended on its own in that same moment has nothing left to abort; if it
// succeeded with the version this release registered, that version is
// live, and the outcome says so instead of "aborted".
func (dp *Deployer) stopped(ctx context.Context, st *stackfile.Stack, j *render.Job, res rollout.Result) (rollout.Result, error) {
	ares, err := dp.Abort(ctx, st, j.Name)
	if err == nil {
		return ares, errAbortedByFailFast
	}
	if !errors.Is(err, rollout.ErrNoActiveDeployment) {
		return ares, err
	}
	qo := (&nomadapi.QueryOptions{}).WithContext(ctx)
	cur, _, jerr := dp.Nomad.Jobs().Info(j.Name, qo)
	d, _, derr := dp.Nomad.Jobs().LatestDeployment(j.Name, qo)
	if jerr == nil && derr == nil && d != nil && cur.Version != nil &&
		d.JobVersion == *cur.Version && d.Status == nomadapi.DeploymentStatusSuccessful &&
		cur.Meta[jobmeta.Version] == j.Job.Meta[jobmeta.Version] {
		res.Outcome = rollout.Succeeded
		res.JobVersion = *cur.Version
		res.DeploymentID = d.ID
		return res, nil
	}
	return ares, errAbortedByFailFast
}
