package rollout

import (
	"context"
	"fmt"
	"reflect"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// blockingWait is how long one blocking query may wait at the server. Nomad
// answers as soon as the watched object changes, so this bounds only the
// quiet periods; it also bounds how late a cancelled context is noticed.
const blockingWait = 10 * time.Second

// watcher follows one deployment through blocking queries: one request per
// change, not a poll loop.
type watcher struct {
	nomad *nomadapi.Client
	sink  Sink
	job   string
	// reasons already reported (watchReasons), for the whole release.
	reasons map[string]bool
}

// deploymentFor waits until Nomad has created the deployment for the given
// job version (evaluation, then deployment: both asynchronous after
// register).
func (w *watcher) deploymentFor(ctx context.Context, version uint64, timeout time.Duration) (*nomadapi.Deployment, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var index uint64
	for {
		q := (&nomadapi.QueryOptions{WaitIndex: index, WaitTime: blockingWait}).WithContext(ctx)
		deps, meta, err := w.nomad.Jobs().Deployments(w.job, false, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("no deployment for %s version %d within %v", w.job, version, timeout)
			}
			return nil, &ClusterError{Op: "read deployments", Err: err}
		}
		for _, d := range deps {
			if d.JobVersion == version {
				return d, nil
			}
		}
		index = meta.LastIndex
	}
}

// until follows deployment id, emitting progress whenever its counts or
// status change, and returns it once done(d) is true.
func (w *watcher) until(ctx context.Context, id string, done func(*nomadapi.Deployment) bool) (*nomadapi.Deployment, error) {
	defer w.watchReasons(ctx, id)()
	var index uint64
	var last []GroupStatus
	var lastStatus string
	for {
		q := (&nomadapi.QueryOptions{WaitIndex: index, WaitTime: blockingWait}).WithContext(ctx)
		d, meta, err := w.nomad.Deployments().Info(id, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, &ClusterError{Op: "read deployment", Err: err}
		}
		g := groupsOf(d)
		if !reflect.DeepEqual(g, last) || d.Status != lastStatus {
			w.sink.Emit(Event{Time: time.Now(), Type: EventProgress, Job: w.job, JobVersion: d.JobVersion,
				DeploymentID: d.ID, Status: d.Status, Message: d.StatusDescription, Groups: g})
			last, lastStatus = g, d.Status
		}
		if done(d) {
			return d, nil
		}
		index = meta.LastIndex
	}
}

func terminal(d *nomadapi.Deployment) bool {
	switch d.Status {
	case nomadapi.DeploymentStatusSuccessful, nomadapi.DeploymentStatusFailed,
		nomadapi.DeploymentStatusCancelled:
		return true
	}
	return false
}

// canariesHealthy is true once every group's canaries are placed and
// healthy, or the deployment ended without getting there.
func canariesHealthy(d *nomadapi.Deployment) bool {
	if terminal(d) {
		return true
	}
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries == 0 {
			continue
		}
		if len(s.PlacedCanaries) < s.DesiredCanaries || s.HealthyAllocs < s.DesiredCanaries {
			return false
		}
	}
	return true
}

// hasCanaries reports whether the deployment places canaries at all.
func hasCanaries(d *nomadapi.Deployment) bool {
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 {
			return true
		}
	}
	return false
}

// oldAllocationsGone waits until no allocation of a version older than
// version is still running (allocations updated in place carry the new
// version).
func (w *watcher) oldAllocationsGone(ctx context.Context, version uint64) error {
	var index uint64
	for {
		q := (&nomadapi.QueryOptions{WaitIndex: index, WaitTime: blockingWait}).WithContext(ctx)
		allocs, meta, err := w.nomad.Jobs().Allocations(w.job, false, q)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &ClusterError{Op: "read allocations", Err: err}
		}
		old := 0
		for _, a := range allocs {
			if a.JobVersion < version && (a.ClientStatus == nomadapi.AllocClientStatusRunning || a.ClientStatus == nomadapi.AllocClientStatusPending) {
				old++
			}
		}
		if old == 0 {
			return nil
		}
		index = meta.LastIndex
	}
}
