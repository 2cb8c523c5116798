// Package rollout drives a Nomad job release to a final state: it registers
// the job, follows its deployment with blocking queries, judges healthy
// canaries through a Gate (smoke tests, metric analysis), promotes or fails
// the deployment, and follows Nomad's automatic revert to its end.
//
// Everything it knows is in Nomad: a second run finds the job version and
// deployment a killed run left behind and carries on from there.
package rollout

import (
	"context"
	"errors"
	"fmt"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/reqcount"
)

// Verdict is a gate's judgement of the healthy canaries.
type Verdict int

const (
	Pass Verdict = iota
	Fail
	Inconclusive
)

func (v Verdict) String() string {
	return [...]string{"pass", "fail", "inconclusive"}[v]
}

// Gate judges canaries once all are healthy in Nomad.
type Gate interface {
	Check(ctx context.Context, d *nomadapi.Deployment) (Verdict, string, error)
}

// Outcome is how a release ended; the CLI maps it to an exit code.
type Outcome string

const (
	Succeeded  Outcome = "succeeded"
	NoChange   Outcome = "no-change"
	RolledBack Outcome = "rolled-back" // failed, and Nomad restored the last stable version
	Failed     Outcome = "failed"      // failed with no automatic revert
	Waiting    Outcome = "waiting"     // canaries healthy, waiting for a human to promote
)

// Options tune one release.
type Options struct {
	// AutoPromote promotes canaries once they are healthy and the gate
	// passes. Without it hstack waits for `hstack promote` (or, with
	// Detach, returns Waiting).
	AutoPromote bool
	Detach      bool
	Gate        Gate
	Sink        Sink
	// Tag names the job version once it succeeds (Nomad version tags), so
	// a rollback can target it; "" = no tag.
	Tag string
	// TagDescription says who released it and how.
	TagDescription string
	// DeploymentTimeout bounds waiting for Nomad to create the deployment
	// after registration.
	DeploymentTimeout time.Duration
}

// Result says what happened.
type Result struct {
	Outcome      Outcome      `json:"outcome"`
	Job          string       `json:"job"`
	JobVersion   uint64       `json:"job_version"`
	DeploymentID string       `json:"deployment_id,omitempty"`
	Inspections  []Inspection `json:"inspections,omitempty"`
	// Requests counts the Nomad API calls this release made, at the
	// transport (see pkg/reqcount): true on every path.
	Requests int `json:"nomad_requests"`
}

// Deploy releases job. The job's update block says how (canaries, auto
// revert); Deploy turns off Nomad's own auto_promote when a gate must judge
// the canaries first.
func Deploy(ctx context.Context, nomad *nomadapi.Client, job *nomadapi.Job, opts Options) (Result, error) {
	e := newEngine(nomad, *job.ID, opts)
	ctx = reqcount.WithCounter(ctx)
	err := e.run(ctx, job)
	e.end(ctx)
	return e.res, err
}

type engine struct {
	nomad *nomadapi.Client
	opts  Options
	w     *watcher
	res   Result
}

func (e *engine) emit(t EventType, d *nomadapi.Deployment, format string, args ...any) {
	ev := Event{Time: time.Now(), Type: t, Job: e.res.Job, JobVersion: e.res.JobVersion, Message: fmt.Sprintf(format, args...)}
	if d != nil {
		ev.DeploymentID, ev.Status, ev.Groups, ev.JobVersion = d.ID, d.Status, groupsOf(d), d.JobVersion
	}
	e.opts.Sink.Emit(ev)
}

func (e *engine) run(ctx context.Context, job *nomadapi.Job) error {
	if e.opts.Gate != nil {
		disableNomadAutoPromote(job)
	}
	d, err := e.submitOrAttach(ctx, job)
	if err != nil || d == nil {
		return err
	}
	return e.drive(ctx, d)
}

// submitOrAttach registers job unless Nomad already has this exact job
// version, in which case it attaches to that version's deployment (a second
// `hstack deploy` after a killed one) or reports no change.
func (e *engine) submitOrAttach(ctx context.Context, job *nomadapi.Job) (*nomadapi.Deployment, error) {
	d, registered, err := e.submit(ctx, job)
	switch {
	case err != nil:
		return nil, err
	case registered:
		e.emit(EventSubmitted, nil, "registered %s version %d", *job.ID, e.res.JobVersion)
		e.emit(EventDeploymentSeen, d, "deployment %s", ShortID(d.ID))
		return d, nil
	case d != nil && !terminal(d):
		e.emit(EventAttached, d, "version %d is already being deployed; following it", d.JobVersion)
		return d, nil
	}
	e.res.Outcome = NoChange
	e.emit(EventNoChange, d, "no changes: %s version %d is what the cluster runs", *job.ID, e.res.JobVersion)
	return nil, nil
}

// submit registers job unless Nomad already runs exactly this spec. It
// returns the deployment of the version Nomad now runs (nil when that
// version has none) and whether it registered a new version.
func (e *engine) submit(ctx context.Context, job *nomadapi.Job) (*nomadapi.Deployment, bool, error) {
	wq := (&nomadapi.WriteOptions{}).WithContext(ctx)
	qo := (&nomadapi.QueryOptions{}).WithContext(ctx)
	plan, _, err := e.nomad.Jobs().Plan(job, true, wq)
	if err != nil {
		return nil, false, &ClusterError{Op: "plan", Err: err}
	}
	if plan.Diff != nil && plan.Diff.Type == "None" {
		cur, _, err := e.nomad.Jobs().Info(*job.ID, qo)
		if err != nil {
			return nil, false, &ClusterError{Op: "read job", Err: err}
		}
		e.res.JobVersion = *cur.Version
		d, _, err := e.nomad.Jobs().LatestDeployment(*job.ID, qo)
		if err != nil {
			return nil, false, &ClusterError{Op: "read deployment", Err: err}
		}
		if d == nil || d.JobVersion != *cur.Version {
			return nil, false, nil
		}
		e.res.DeploymentID = d.ID
		return d, false, nil
	}

	// EnforceIndex: if someone else registers the job between our plan and
	// this call, fail rather than overwrite their version.
	if _, _, err := e.nomad.Jobs().RegisterOpts(job, &nomadapi.RegisterOptions{
		EnforceIndex: true, ModifyIndex: plan.JobModifyIndex,
	}, wq); err != nil {
		return nil, false, &ClusterError{Op: "register", Err: err}
	}
	cur, _, err := e.nomad.Jobs().Info(*job.ID, qo)
	if err != nil {
		return nil, false, &ClusterError{Op: "read job", Err: err}
	}
	e.res.JobVersion = *cur.Version
	d, err := e.w.deploymentFor(ctx, *cur.Version, e.opts.DeploymentTimeout)
	if err != nil {
		return nil, false, err
	}
	e.res.DeploymentID = d.ID
	return d, true, nil
}

func (e *engine) drive(ctx context.Context, d *nomadapi.Deployment) error {
	var err error
	if hasCanaries(d) && !allPromoted(d) {
		if d, err = e.w.until(ctx, d.ID, func(d *nomadapi.Deployment) bool {
			return canariesHealthy(d) || crashLooping(d)
		}); err != nil {
			return err
		}
		if crashLooping(d) && !terminal(d) {
			// Nomad would reschedule failing canaries until the progress
			// deadline; a canary that failed, and whose replacement failed
			// too, has said enough.
			if _, _, err := e.nomad.Deployments().Fail(d.ID, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
				return &ClusterError{Op: "fail deployment", Err: err}
			}
			e.emit(EventFailed, d, "canaries keep failing: %d unhealthy canary allocations", unhealthyCanaries(d))
		} else if !terminal(d) {
			if err := e.judgeCanaries(ctx, d); err != nil {
				if errors.Is(err, errWaiting) {
					return nil
				}
				return err
			}
		}
	}
	if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
		return err
	}
	return e.finish(ctx, d)
}

var errWaiting = errors.New("waiting for promotion")

// crashLooping is true once a group has more unhealthy allocations than
// canaries: every canary failed at least once and a replacement failed too.
func crashLooping(d *nomadapi.Deployment) bool {
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 && !s.Promoted && s.UnhealthyAllocs > s.DesiredCanaries {
			return true
		}
	}
	return false
}

func unhealthyCanaries(d *nomadapi.Deployment) int {
	n := 0
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 {
			n += s.UnhealthyAllocs
		}
	}
	return n
}

func allPromoted(d *nomadapi.Deployment) bool {
	for _, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 && !s.Promoted {
			return false
		}
	}
	return true
}

// judgeCanaries runs the gate on healthy canaries and promotes, fails, or
// waits for a human.
func (e *engine) judgeCanaries(ctx context.Context, d *nomadapi.Deployment) error {
	e.emit(EventCanariesReady, d, "canaries healthy")
	verdict, why := Pass, "health checks passing"
	if e.opts.Gate != nil {
		v, msg, err := e.opts.Gate.Check(ctx, d)
		if err != nil {
			return err
		}
		verdict, why = v, msg
		e.emit(EventAnalysis, d, "%s: %s", v, msg)
	}
	wq := (&nomadapi.WriteOptions{}).WithContext(ctx)
	switch {
	case verdict == Fail:
		if _, _, err := e.nomad.Deployments().Fail(d.ID, wq); err != nil {
			return &ClusterError{Op: "fail deployment", Err: err}
		}
		e.emit(EventFailed, d, "canaries failed: %s", why)
		return nil
	case verdict == Pass && e.opts.AutoPromote:
		if _, _, err := e.nomad.Deployments().PromoteAll(d.ID, wq); err != nil {
			return &ClusterError{Op: "promote", Err: err}
		}
		e.emit(EventPromoted, d, "promoted: %s", why)
		return nil
	}
	// Pass without auto-promotion, or inconclusive: a human decides.
	e.emit(EventPaused, d, "%s; promote with `hstack promote %s` or abort with `hstack abort %s`", why, e.res.Job, e.res.Job)
	if e.opts.Detach {
		e.res.Outcome = Waiting
		return errWaiting
	}
	_, err := e.w.until(ctx, d.ID, func(d *nomadapi.Deployment) bool { return terminal(d) || allPromoted(d) })
	return err
}

// finish reports a terminal deployment; a failed one with auto_revert is
// followed until Nomad's revert deployment completes too.
func (e *engine) finish(ctx context.Context, d *nomadapi.Deployment) error {
	if d.Status == nomadapi.DeploymentStatusSuccessful {
		// Nomad calls a deployment successful once the new allocations are
		// healthy; the replaced ones may still be draining. Done means the
		// old version is gone.
		if err := e.w.oldAllocationsGone(ctx, d.JobVersion); err != nil {
			return err
		}
		e.res.Outcome = Succeeded
		if e.opts.Tag != "" {
			desc := e.opts.TagDescription
			if desc == "" {
				desc = "released by hstack"
			}
			// A tag names one version; releasing the same app version again
			// (after a rollback, say) keeps the tag where it was.
			if _, err := e.nomad.Jobs().TagVersion(e.res.Job, d.JobVersion, e.opts.Tag,
				desc, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
				e.emit(EventProgress, d, "version %d not tagged %s: %v", d.JobVersion, e.opts.Tag, err)
			}
		}
		e.emit(EventSucceeded, d, "deployment successful")
		return nil
	}
	e.res.Outcome = Failed
	ins, err := inspect(ctx, e.nomad, d.ID)
	if err == nil && len(ins) > 0 {
		e.res.Inspections = ins
		for _, in := range ins {
			e.emit(EventInspection, d, "%s", in.Format())
		}
	}
	e.emit(EventFailed, d, "deployment %s: %s", d.Status, d.StatusDescription)
	if !revertsAutomatically(d) {
		return nil
	}
	stable, err := e.hasStableVersion(ctx, d.JobVersion)
	if err != nil {
		return err
	}
	if !stable {
		e.emit(EventFailed, d, "no earlier stable version to revert to")
		return nil
	}
	e.emit(EventRollingBack, d, "Nomad is reverting to the last stable version")
	rd, err := e.w.deploymentFor(ctx, d.JobVersion+1, e.opts.DeploymentTimeout)
	if err != nil {
		return fmt.Errorf("waiting for the revert: %w", err)
	}
	if rd, err = e.w.until(ctx, rd.ID, terminal); err != nil {
		return err
	}
	if rd.Status != nomadapi.DeploymentStatusSuccessful {
		e.emit(EventFailed, rd, "the revert deployment %s: %s", rd.Status, rd.StatusDescription)
		return fmt.Errorf("revert deployment %s: %s", rd.Status, rd.StatusDescription)
	}
	e.res.Outcome = RolledBack
	e.emit(EventRolledBack, rd, "rolled back: version %d is serving", rd.JobVersion)
	return nil
}

// hasStableVersion tells whether Nomad has a stable version older than
// failed to revert to; a job's first release has none.
func (e *engine) hasStableVersion(ctx context.Context, failed uint64) (bool, error) {
	versions, _, _, err := e.nomad.Jobs().Versions(e.res.Job, false, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return false, &ClusterError{Op: "read versions", Err: err}
	}
	for _, v := range versions {
		if v.Version != nil && *v.Version < failed && v.Stable != nil && *v.Stable {
			return true, nil
		}
	}
	return false, nil
}

// revertsAutomatically tells whether Nomad will revert after this failure:
// whether any task group of the deployment has auto_revert set.
func revertsAutomatically(d *nomadapi.Deployment) bool {
	for _, s := range d.TaskGroups {
		if s.AutoRevert {
			return true
		}
	}
	return false
}

func disableNomadAutoPromote(job *nomadapi.Job) {
	off := false
	if job.Update != nil && job.Update.AutoPromote != nil {
		job.Update.AutoPromote = &off
	}
	for _, tg := range job.TaskGroups {
		if tg.Update != nil && tg.Update.AutoPromote != nil {
			tg.Update.AutoPromote = &off
		}
	}
}

// ClusterError is a failure to talk to Nomad (unreachable, denied): exit
// code 3 in the CLI, distinct from a release that failed.
type ClusterError struct {
	Op  string
	Err error
}

func (e *ClusterError) Error() string { return fmt.Sprintf("nomad %s: %v", e.Op, e.Err) }
func (e *ClusterError) Unwrap() error { return e.Err }
