package release

import (
	"context"
	"errors"
	"sync"

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
				res, err = one.Abort(context.WithoutCancel(ctx), st, j.Name)
				if err == nil || errors.Is(err, rollout.ErrNoActiveDeployment) {
					err = errors.New("aborted: another app's release failed (--fail-fast)")
				}
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
