package rollout

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/reqcount"
)

// ErrNoActiveDeployment means there is nothing in flight to act on.
var ErrNoActiveDeployment = errors.New("no active deployment")

// Promote promotes the canaries of job's active deployment and follows it
// to its end.
// opts.Sink receives the events; opts.Tag (default: the release tag of the
// job's meta version) names the version once it succeeds.
func Promote(ctx context.Context, nomad *nomadapi.Client, job string, opts Options) (res Result, err error) {
	e := newEngine(nomad, job, opts)
	ctx = reqcount.WithCounter(ctx)
	defer func() { e.end(ctx); res = e.res }()
	cur, err := e.current(ctx)
	if err != nil {
		return e.res, err
	}
	// A release finished by hand is tagged like one deploy finished: by
	// the version being released, which for a stepped canary is the
	// canary's release (the job's own meta is still the stable version's).
	v := cur.Meta[jobmeta.Version]
	if r := cur.Meta[jobmeta.CanaryRelease]; r != "" {
		v = r
	}
	if v != "" && e.opts.Tag == "" {
		e.opts.Tag = jobmeta.ReleaseTag(v)
	}
	if e.opts.TagDescription == "" {
		e.opts.TagDescription = "promoted by hand with hstack"
	}
	if group, baseline, ok := stepped(cur); ok {
		return e.res, e.promoteStepped(ctx, cur, group, baseline)
	}
	d, err := e.active(ctx)
	if err != nil {
		return e.res, err
	}
	if !hasCanaries(d) || allPromoted(d) {
		return e.res, fmt.Errorf("deployment %s of %s has no canaries waiting for promotion", ShortID(d.ID), job)
	}
	if _, _, err := nomad.Deployments().PromoteAll(d.ID, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
		return e.res, &ClusterError{Op: "promote", Err: err}
	}
	e.emit(EventPromoted, d, "promoted by hand")
	if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
		return e.res, err
	}
	return e.res, e.finish(ctx, d)
}

// Abort fails job's active deployment; with auto_revert Nomad then restores
// the last stable version, which Abort follows to its end.
func Abort(ctx context.Context, nomad *nomadapi.Client, job string, opts Options) (res Result, err error) {
	e := newEngine(nomad, job, opts)
	ctx = reqcount.WithCounter(ctx)
	defer func() { e.end(ctx); res = e.res }()
	if cur, err := e.current(ctx); err != nil {
		return e.res, err
	} else if _, baseline, ok := stepped(cur); ok {
		return e.res, e.revertTo(ctx, baseline)
	}
	d, err := e.active(ctx)
	if err != nil {
		return e.res, err
	}
	if _, _, err := nomad.Deployments().Fail(d.ID, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
		return e.res, &ClusterError{Op: "fail deployment", Err: err}
	}
	e.emit(EventFailed, d, "aborted by hand")
	if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
		return e.res, err
	}
	return e.res, e.finish(ctx, d)
}

// RollbackTo names the version a rollback returns to: a job version, a
// version tag, or (both empty) the newest stable version older than the
// current one.
type RollbackTo struct {
	Version *uint64
	Tag     string
}

// ErrNoSuchVersion means a rollback's target is not in Nomad's history.
var ErrNoSuchVersion = errors.New("no such version")

// Rollback reverts job to the version to names and follows the revert's
// deployment. EnforcePriorVersion makes the revert fail rather than undo a
// version someone registered in the meantime.
func Rollback(ctx context.Context, nomad *nomadapi.Client, job string, to RollbackTo, opts Options) (res Result, err error) {
	e := newEngine(nomad, job, opts)
	ctx = reqcount.WithCounter(ctx)
	defer func() { e.end(ctx); res = e.res }()
	versions, _, _, err := nomad.Jobs().Versions(job, false, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return e.res, &ClusterError{Op: "read versions", Err: err}
	}
	if len(versions) == 0 {
		return e.res, fmt.Errorf("job %s has no versions", job)
	}
	current := *versions[0].Version // newest first
	target, err := RollbackTarget(versions, to)
	if err != nil {
		return e.res, err
	}
	if _, _, err := nomad.Jobs().Revert(job, target, &current, (&nomadapi.WriteOptions{}).WithContext(ctx), "", ""); err != nil {
		return e.res, &ClusterError{Op: "revert", Err: err}
	}
	e.res.JobVersion = current + 1
	e.emit(EventRollingBack, nil, "reverting %s from version %d to version %d", job, current, target)
	d, err := e.w.deploymentFor(ctx, current+1, time.Minute)
	if err != nil {
		return e.res, err
	}
	e.res.DeploymentID = d.ID
	// The target's update block may ask for canaries; the operator has
	// already chosen this version, so its canaries are promoted once
	// healthy rather than left waiting for a second decision.
	if hasCanaries(d) {
		if d, err = e.w.until(ctx, d.ID, func(d *nomadapi.Deployment) bool { return canariesHealthy(d) || crashLooping(d) }); err != nil {
			return e.res, err
		}
		if !terminal(d) && !crashLooping(d) && !allPromoted(d) {
			if _, _, err := nomad.Deployments().PromoteAll(d.ID, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
				return e.res, &ClusterError{Op: "promote", Err: err}
			}
			e.emit(EventPromoted, d, "promoted the rollback's canaries")
		}
	}
	if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
		return e.res, err
	}
	if d.Status != nomadapi.DeploymentStatusSuccessful {
		e.res.Outcome = Failed
		e.emit(EventFailed, d, "the revert deployment %s: %s", d.Status, d.StatusDescription)
		return e.res, nil
	}
	if err := e.w.oldAllocationsGone(ctx, d.JobVersion); err != nil {
		return e.res, err
	}
	e.res.Outcome = RolledBack
	e.emit(EventRolledBack, d, "rolled back to version %d (now version %d)", target, d.JobVersion)
	return e.res, nil
}

// RollbackTarget picks the version to revert to from versions, newest
// first.
func RollbackTarget(versions []*nomadapi.Job, to RollbackTo) (uint64, error) {
	current := *versions[0].Version
	switch {
	case to.Version != nil && to.Tag != "":
		return 0, errors.New("a version and a tag name the same thing: give one")
	case to.Tag != "":
		for _, v := range versions {
			if v.VersionTag != nil && v.VersionTag.Name == to.Tag {
				if *v.Version == current {
					return 0, fmt.Errorf("tag %s is on the current version (%d)", to.Tag, current)
				}
				return *v.Version, nil
			}
		}
		return 0, fmt.Errorf("%w: no version tagged %s (see `hstack history`)", ErrNoSuchVersion, to.Tag)
	case to.Version != nil:
		if *to.Version == current {
			return 0, fmt.Errorf("version %d is the current version", *to.Version)
		}
		for _, v := range versions {
			if *v.Version == *to.Version {
				return *to.Version, nil
			}
		}
		return 0, fmt.Errorf("%w: no version %d (Nomad keeps a limited history; see `hstack history`)", ErrNoSuchVersion, *to.Version)
	}
	for _, v := range versions[1:] {
		if v.Stable != nil && *v.Stable {
			return *v.Version, nil
		}
	}
	return 0, fmt.Errorf("%w: no stable version older than %d to roll back to", ErrNoSuchVersion, current)
}

// Version is one line of `hstack history`.
type Version struct {
	Version    uint64    `json:"version"`
	Stable     bool      `json:"stable"`
	Submitted  time.Time `json:"submitted"`
	AppVersion string    `json:"app_version,omitempty"`
	Tag        string    `json:"tag,omitempty"`
	Deployment string    `json:"deployment_status,omitempty"`
	Message    string    `json:"deployment_message,omitempty"`
}

// History lists job's versions, newest first, with their deployments'
// outcomes.
func History(ctx context.Context, nomad *nomadapi.Client, job string) ([]Version, error) {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	versions, _, _, err := nomad.Jobs().Versions(job, false, q)
	if err != nil {
		return nil, &ClusterError{Op: "read versions", Err: err}
	}
	deps, _, err := nomad.Jobs().Deployments(job, true, q)
	if err != nil {
		return nil, &ClusterError{Op: "read deployments", Err: err}
	}
	recorded, err := recordedOutcomes(ctx, nomad, job)
	if err != nil {
		return nil, &ClusterError{Op: "read recorded outcomes", Err: err}
	}
	byVersion := map[uint64]*nomadapi.Deployment{}
	for _, d := range deps {
		if old, ok := byVersion[d.JobVersion]; !ok || d.CreateIndex > old.CreateIndex {
			byVersion[d.JobVersion] = d
		}
	}
	var out []Version
	for _, v := range versions {
		h := Version{Version: *v.Version, Stable: v.Stable != nil && *v.Stable}
		if v.SubmitTime != nil {
			h.Submitted = time.Unix(0, *v.SubmitTime).UTC()
		}
		h.AppVersion = v.Meta[jobmeta.Version]
		if v.VersionTag != nil {
			h.Tag = v.VersionTag.Name
		}
		if d := byVersion[h.Version]; d != nil {
			h.Deployment, h.Message = d.Status, d.StatusDescription
		} else if o, ok := recorded[h.Version]; ok {
			// Nomad has reaped the deployment; hstack kept its outcome.
			h.Deployment, h.Message = o.Status, o.Description
		}
		out = append(out, h)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version > out[j].Version })
	return out, nil
}

// Status is the live state of a job's latest deployment.
type Status struct {
	Job          string        `json:"job"`
	JobVersion   uint64        `json:"job_version"`
	AppVersion   string        `json:"app_version,omitempty"`
	Strategy     string        `json:"strategy,omitempty"`
	DeploymentID string        `json:"deployment_id,omitempty"`
	Status       string        `json:"status,omitempty"`
	Description  string        `json:"description,omitempty"`
	Groups       []GroupStatus `json:"groups,omitempty"`
	// Gate holds what hstack's gate found for this deployment so far:
	// smoke tests, load tests, analyses.
	Gate []string `json:"gate,omitempty"`
}

// CurrentStatus reads job and its latest deployment.
func CurrentStatus(ctx context.Context, nomad *nomadapi.Client, job string) (Status, error) {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	j, _, err := nomad.Jobs().Info(job, q)
	if err != nil {
		return Status{}, &ClusterError{Op: "read job", Err: err}
	}
	st := Status{Job: job, JobVersion: *j.Version, AppVersion: j.Meta[jobmeta.Version], Strategy: j.Meta[jobmeta.Strategy]}
	d, _, err := nomad.Jobs().LatestDeployment(job, q)
	if err != nil {
		return st, &ClusterError{Op: "read deployment", Err: err}
	}
	if d != nil {
		st.DeploymentID, st.Status, st.Description, st.Groups = d.ID, d.Status, d.StatusDescription, groupsOf(d)
		if st.Gate, err = GateNotes(ctx, nomad, job, d.ID); err != nil {
			return st, &ClusterError{Op: "read gate findings", Err: err}
		}
	}
	return st, nil
}

func newEngine(nomad *nomadapi.Client, job string, opts Options) *engine {
	if opts.Sink == nil {
		opts.Sink = SinkFunc(func(Event) {})
	}
	if opts.DeploymentTimeout == 0 {
		opts.DeploymentTimeout = time.Minute
	}
	e := &engine{nomad: nomad, opts: opts, res: Result{Job: job}}
	e.w = &watcher{nomad: nomad, sink: opts.Sink, job: job, reasons: map[string]bool{}}
	return e
}

func (e *engine) current(ctx context.Context) (*nomadapi.Job, error) {
	j, _, err := e.nomad.Jobs().Info(e.res.Job, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, &ClusterError{Op: "read job", Err: err}
	}
	return j, nil
}

// active returns job's running deployment.
func (e *engine) active(ctx context.Context) (*nomadapi.Deployment, error) {
	d, _, err := e.nomad.Jobs().LatestDeployment(e.res.Job, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, &ClusterError{Op: "read deployment", Err: err}
	}
	if d == nil || terminal(d) {
		return nil, fmt.Errorf("%s: %w", e.res.Job, ErrNoActiveDeployment)
	}
	e.res.JobVersion, e.res.DeploymentID = d.JobVersion, d.ID
	return d, nil
}
