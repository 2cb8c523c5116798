package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/dustin/go-humanize/english"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/reqcount"
)

// Stepped canaries. Nomad cannot grow a canary set in place (nomad#11822):
// registering a new canary count starts a new deployment and Nomad stops
// the previous deployment's unpromoted canaries. So during a stepped release
// the job carries a second task group, "<group>-canary", running the new
// version beside the untouched stable group and scaled step by step. It is
// the same job (Vault policy, Consul service name and Nomad UI all see one
// app), and the stable group's allocations are never touched until the
// final promotion. The job's meta records the release, the baseline version
// and the step, so a second run resumes where a killed one stopped.

// Meta keys on the job versions a stepped release registers.
const (
	MetaCanaryRelease  = jobmeta.CanaryRelease
	MetaCanaryBaseline = jobmeta.CanaryBaseline
	MetaCanaryStep     = jobmeta.CanaryStep
)

// CanarySuffix names the canary task group.
const CanarySuffix = jobmeta.CanarySuffix

// Step is one stage of a stepped canary.
type Step struct {
	Canary int
	Pause  time.Duration
	Gate   Gate // nil = health only
}

// DeploySteps releases job's task group group through steps, then promotes
// the new version to the whole group. Release identifies the new version
// (an app version or a spec hash) so a rerun can recognise its own
// in-flight canary.
func DeploySteps(ctx context.Context, nomad *nomadapi.Client, job *nomadapi.Job, group, release string, steps []Step, opts Options) (Result, error) {
	e := newEngine(nomad, *job.ID, opts)
	ctx = reqcount.WithCounter(ctx)
	err := e.steps(ctx, job, group, release, steps)
	e.end(ctx)
	return e.res, err
}

func (e *engine) steps(ctx context.Context, job *nomadapi.Job, group, release string, steps []Step) error {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	cur, _, err := e.nomad.Jobs().Info(*job.ID, q)
	if err != nil && !notFound(err) {
		return &ClusterError{Op: "read job", Err: err}
	}
	if err != nil {
		// First release: there is no stable version to compare a canary with.
		e.emit(EventSubmitted, nil, "first release of %s: no stable version to run canaries beside; deploying directly", *job.ID)
		return e.run(ctx, job)
	}

	start := 0
	var baseline uint64
	if cg := findGroup(cur, group+CanarySuffix); cg != nil {
		if cur.Meta[MetaCanaryRelease] != release {
			return fmt.Errorf("%s has a canary of another release (%s) in flight: promote or abort it first (`hstack promote %s`, `hstack abort %s`)",
				*job.ID, cur.Meta[MetaCanaryRelease], *job.ID, *job.ID)
		}
		baseline, _ = strconv.ParseUint(cur.Meta[MetaCanaryBaseline], 10, 64)
		start, _ = strconv.Atoi(cur.Meta[MetaCanaryStep])
		e.res.JobVersion = *cur.Version
		e.emit(EventAttached, nil, "resuming the canary of %s at step %d of %d", release, start+1, len(steps))
	} else {
		if findGroup(job, group) == nil {
			return fmt.Errorf("job %s has no task group %q", *job.ID, group)
		}
		d, _, err := e.nomad.Jobs().LatestDeployment(*job.ID, q)
		if err != nil {
			return &ClusterError{Op: "read deployment", Err: err}
		}
		if d != nil && !terminal(d) {
			// A killed run may have left its final promotion running:
			// if that is exactly this release, follow it.
			final, err := promoted(job)
			if err != nil {
				return err
			}
			plan, _, perr := e.nomad.Jobs().Plan(final, true, (&nomadapi.WriteOptions{}).WithContext(ctx))
			if perr == nil && plan.Diff != nil && plan.Diff.Type == "None" {
				e.res.JobVersion, e.res.DeploymentID = d.JobVersion, d.ID
				e.emit(EventAttached, d, "the promotion of %s is in flight; following it", release)
				if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
					return err
				}
				return e.finish(ctx, d)
			}
			return fmt.Errorf("%s has a deployment in flight (%s); wait for it or abort it", *job.ID, ShortID(d.ID))
		}
		baseline = *cur.Version
	}
	stableSpec, err := e.version(ctx, baseline)
	if err != nil {
		return err
	}

	for i := start; i < len(steps); i++ {
		st := steps[i]
		canaryJob, err := withCanaryGroup(stableSpec, job, group, st.Canary)
		if err != nil {
			return err
		}
		canaryJob.Meta[MetaCanaryRelease] = release
		canaryJob.Meta[MetaCanaryBaseline] = fmt.Sprint(baseline)
		canaryJob.Meta[MetaCanaryStep] = fmt.Sprint(i)
		d, err := e.register(ctx, canaryJob)
		if err != nil {
			return err
		}
		e.emit(EventSubmitted, d, "step %d/%d: %s of %s", i+1, len(steps), english.Plural(st.Canary, "canary", ""), release)
		if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
			return err
		}
		// A canary step is not a version to fall back to: Nomad's
		// auto_revert must never land on a job with a canary group, so a
		// failure to say so stops the release.
		if _, _, err := e.nomad.Jobs().Stable(*job.ID, d.JobVersion, false, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
			return &ClusterError{Op: "mark canary step unstable", Err: err}
		}
		if d.Status != nomadapi.DeploymentStatusSuccessful {
			e.inspectInto(ctx, d)
			e.emit(EventFailed, d, "step %d: canaries did not become healthy: %s", i+1, d.StatusDescription)
			return e.revertTo(ctx, baseline)
		}
		e.emit(EventCanariesReady, d, "step %d: %s healthy", i+1, english.Plural(st.Canary, "canary", ""))
		if st.Pause > 0 {
			e.emit(EventProgress, d, "step %d: pausing %v", i+1, st.Pause)
			select {
			case <-time.After(st.Pause):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if st.Gate != nil {
			v, msg, err := st.Gate.Check(ctx, d)
			if err != nil {
				return err
			}
			e.emit(EventAnalysis, d, "step %d: %s: %s", i+1, v, msg)
			switch v {
			case Fail:
				return e.revertTo(ctx, baseline)
			case Inconclusive:
				e.emit(EventPaused, d, "step %d inconclusive; continue with `hstack promote %s` or abort with `hstack abort %s`", i+1, *job.ID, *job.ID)
				e.res.Outcome = Waiting
				return nil
			}
		}
	}

	if !e.opts.AutoPromote {
		e.emit(EventPaused, nil, "all %d steps passed; promote with `hstack promote %s` or abort with `hstack abort %s`", len(steps), *job.ID, *job.ID)
		e.res.Outcome = Waiting
		return nil
	}

	// Promote: the new version replaces the stable group (rolling, so the
	// group never drops below its healthy count) and the canary group goes.
	return e.promoteStep(ctx, job, baseline, fmt.Sprintf("promoting %s to all of %s", release, group))
}

// stepped reads the stepped-canary state of the current job, if any.
func stepped(cur *nomadapi.Job) (group string, baseline uint64, ok bool) {
	if cur.Meta[MetaCanaryRelease] == "" {
		return "", 0, false
	}
	for _, tg := range cur.TaskGroups {
		if n := *tg.Name; len(n) > len(CanarySuffix) && n[len(n)-len(CanarySuffix):] == CanarySuffix {
			b, err := strconv.ParseUint(cur.Meta[MetaCanaryBaseline], 10, 64)
			return n[:len(n)-len(CanarySuffix)], b, err == nil
		}
	}
	return "", 0, false
}

// promoteStepped finishes a paused stepped canary: the canary group's spec
// becomes the group's, at the group's count, and the canary group goes.
func (e *engine) promoteStepped(ctx context.Context, cur *nomadapi.Job, group string, baseline uint64) error {
	next, err := clone(cur)
	if err != nil {
		return err
	}
	resetServerFields(next)
	cg, sg := findGroup(next, group+CanarySuffix), findGroup(next, group)
	name := group
	cg.Name, cg.Count, cg.Update, cg.Scaling = &name, sg.Count, sg.Update, sg.Scaling
	for _, svc := range allServices(cg) {
		svc.Tags = withoutTag(svc.Tags, jobmeta.Canary)
		delete(svc.Meta, jobmeta.Canary)
	}
	var groups []*nomadapi.TaskGroup
	for _, tg := range next.TaskGroups {
		switch tg {
		case sg:
			groups = append(groups, cg)
		case cg:
		default:
			groups = append(groups, tg)
		}
	}
	next.TaskGroups = groups
	for _, k := range []string{MetaCanaryRelease, MetaCanaryBaseline, MetaCanaryStep} {
		delete(next.Meta, k)
	}
	return e.promoteStep(ctx, next, baseline, "promoted by hand")
}

// promoteStep registers job with its canary group folded into the stable
// one and follows that deployment; if it fails, the baseline comes back.
func (e *engine) promoteStep(ctx context.Context, job *nomadapi.Job, baseline uint64, msg string) error {
	final, err := promoted(job)
	if err != nil {
		return err
	}
	d, err := e.register(ctx, final)
	if err != nil {
		return err
	}
	e.emit(EventPromoted, d, "%s", msg)
	if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
		return err
	}
	if d.Status != nomadapi.DeploymentStatusSuccessful {
		e.inspectInto(ctx, d)
		e.emit(EventFailed, d, "promotion failed: %s", d.StatusDescription)
		return e.revertTo(ctx, baseline)
	}
	return e.finish(ctx, d)
}

func withoutTag(tags []string, t string) []string {
	var out []string
	for _, x := range tags {
		if x != t {
			out = append(out, x)
		}
	}
	return out
}

// register submits a step's job and returns its deployment. If Nomad
// already runs exactly this spec (a resumed run re-registering its current
// step), it returns that version's deployment.
func (e *engine) register(ctx context.Context, job *nomadapi.Job) (*nomadapi.Deployment, error) {
	d, _, err := e.submit(ctx, job)
	if err == nil && d == nil {
		err = fmt.Errorf("nomad runs %s version %d but has no deployment for it", *job.ID, e.res.JobVersion)
	}
	return d, err
}

// revertTo restores the baseline version (dropping the canary group; the
// stable group is unchanged, so its allocations are untouched) and follows
// the revert.
func (e *engine) revertTo(ctx context.Context, baseline uint64) error {
	cur, _, err := e.nomad.Jobs().Info(e.res.Job, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return &ClusterError{Op: "read job", Err: err}
	}
	e.emit(EventRollingBack, nil, "reverting to version %d", baseline)
	if _, _, err := e.nomad.Jobs().Revert(e.res.Job, baseline, cur.Version, (&nomadapi.WriteOptions{}).WithContext(ctx), "", ""); err != nil {
		return &ClusterError{Op: "revert", Err: err}
	}
	e.res.JobVersion = *cur.Version + 1
	d, err := e.w.deploymentFor(ctx, e.res.JobVersion, e.opts.DeploymentTimeout)
	if err != nil {
		return err
	}
	if d, err = e.w.until(ctx, d.ID, terminal); err != nil {
		return err
	}
	if d.Status != nomadapi.DeploymentStatusSuccessful {
		e.res.Outcome = Failed
		return fmt.Errorf("revert to version %d: deployment %s: %s", baseline, d.Status, d.StatusDescription)
	}
	e.res.Outcome = RolledBack
	e.emit(EventRolledBack, d, "rolled back: version %d (a copy of %d) is serving", d.JobVersion, baseline)
	return nil
}

func (e *engine) inspectInto(ctx context.Context, d *nomadapi.Deployment) {
	ins, err := inspect(ctx, e.nomad, d.ID)
	if err != nil || len(ins) == 0 {
		return
	}
	e.res.Inspections = append(e.res.Inspections, ins...)
	for _, in := range ins {
		e.emit(EventInspection, d, "%s", in.Format())
	}
}

func (e *engine) version(ctx context.Context, v uint64) (*nomadapi.Job, error) {
	versions, _, _, err := e.nomad.Jobs().Versions(e.res.Job, false, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, &ClusterError{Op: "read versions", Err: err}
	}
	for _, j := range versions {
		if *j.Version == v {
			return j, nil
		}
	}
	return nil, fmt.Errorf("version %d of %s is no longer in Nomad's history", v, e.res.Job)
}

// withCanaryGroup is the stable spec plus the new version's group, renamed,
// sized for the step and marked as canary for Consul and Prometheus.
func withCanaryGroup(stable, next *nomadapi.Job, group string, count int) (*nomadapi.Job, error) {
	out, err := clone(stable)
	if err != nil {
		return nil, err
	}
	resetServerFields(out)
	ng := findGroup(next, group)
	if ng == nil {
		return nil, fmt.Errorf("job %s has no task group %q", *next.ID, group)
	}
	cg, err := clone(ng)
	if err != nil {
		return nil, err
	}
	name := group + CanarySuffix
	cg.Name = &name
	cg.Count = &count
	off, zero := false, 0
	cg.Update = cloneUpdate(cg.Update, next.Update)
	cg.Update.Canary = &zero
	cg.Update.AutoRevert = &off
	cg.Update.AutoPromote = &off
	cg.Update.MaxParallel = &count
	cg.Scaling = nil
	// What a person sees on this group's page in the Nomad UI: whose
	// canaries these are and of which version.
	cg.Meta = maps.Clone(cg.Meta)
	if cg.Meta == nil {
		cg.Meta = map[string]string{}
	}
	cg.Meta["hstack_canary_of"] = group
	cg.Meta["hstack_role"] = fmt.Sprintf("canaries of %s's next version, added by hstack for this stepped release; removed once it is promoted or aborted", group)
	if v := next.Meta["version"]; v != "" {
		cg.Meta["version"] = v
	}
	for _, svc := range allServices(cg) {
		svc.Tags = append(append([]string{}, svc.Tags...), svc.CanaryTags...)
		svc.Tags = appendMissing(svc.Tags, jobmeta.Canary)
		if svc.Meta == nil {
			svc.Meta = map[string]string{}
		}
		for k, v := range svc.CanaryMeta {
			svc.Meta[k] = v
		}
		svc.Meta[jobmeta.Canary] = "true"
	}
	out.TaskGroups = append(out.TaskGroups, cg)
	if out.Meta == nil {
		out.Meta = map[string]string{}
	}
	return out, nil
}

// promoted is the new job with auto_revert off: if the final rollout
// fails, hstack reverts to the baseline itself, since Nomad's last stable
// version might predate what the operator expects.
func promoted(next *nomadapi.Job) (*nomadapi.Job, error) {
	out, err := clone(next)
	if err != nil {
		return nil, err
	}
	off, zero := false, 0
	for _, tg := range out.TaskGroups {
		tg.Update = cloneUpdate(tg.Update, out.Update)
		tg.Update.Canary = &zero
		tg.Update.AutoRevert = &off
		tg.Update.AutoPromote = &off
	}
	return out, nil
}

func cloneUpdate(u, jobLevel *nomadapi.UpdateStrategy) *nomadapi.UpdateStrategy {
	switch {
	case u != nil:
		return u.Copy()
	case jobLevel != nil:
		return jobLevel.Copy()
	}
	return &nomadapi.UpdateStrategy{}
}

func clone[T any](v *T) (*T, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	out := new(T)
	return out, json.Unmarshal(b, out)
}

// resetServerFields clears what Nomad sets on a stored version, so it can be
// registered again.
func resetServerFields(j *nomadapi.Job) {
	j.Version, j.Stable, j.SubmitTime = nil, nil, nil
	j.CreateIndex, j.ModifyIndex, j.JobModifyIndex = nil, nil, nil
	j.Status, j.StatusDescription, j.VersionTag = nil, nil, nil
}

func findGroup(j *nomadapi.Job, name string) *nomadapi.TaskGroup {
	for _, tg := range j.TaskGroups {
		if tg.Name != nil && *tg.Name == name {
			return tg
		}
	}
	return nil
}

func allServices(tg *nomadapi.TaskGroup) []*nomadapi.Service {
	svcs := append([]*nomadapi.Service{}, tg.Services...)
	for _, t := range tg.Tasks {
		svcs = append(svcs, t.Services...)
	}
	return svcs
}

func appendMissing(ss []string, s string) []string {
	if slices.Contains(ss, s) {
		return ss
	}
	return append(ss, s)
}

// notFound tells a missing object (Nomad's 404) from a failure to ask.
func notFound(err error) bool {
	var ue nomadapi.UnexpectedResponseError
	if errors.As(err, &ue) {
		return ue.StatusCode() == 404
	}
	var up *nomadapi.UnexpectedResponseError
	return errors.As(err, &up) && up.StatusCode() == 404
}
