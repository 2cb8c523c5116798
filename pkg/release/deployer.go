package release

import (
	"context"
	"fmt"
	"net/http"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/analysis"
	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/notify"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Deployer is the one release API: deploy, promote, abort and rollback
// all go through it, with the same event sink, notifications and release
// tags, whether a release finishes by itself or by hand.
type Deployer struct {
	Nomad    *nomadapi.Client
	Consul   *consulapi.Client
	Runner   *analysis.Runner // nil: no Prometheus (analyses then fail clearly)
	Notifier *notify.Notifier // nil: no notifications
	Sink     rollout.Sink
	// Report receives gate details (smoke tests, analyses) and warnings.
	Report func(format string, args ...any)
	// AutoPromote overrides the stack file's auto_promote when set.
	AutoPromote *bool
	Detach      bool
	// UI is where the links in notifications point (zero: no links).
	UI nomadui.Links
	// DeployedBy is recorded in the version tag of a successful release.
	DeployedBy string
}

// Deploy releases one rendered job. App jobs follow their rollout; the
// ingress and monitoring jobs are plain rolling releases.
func (dp *Deployer) Deploy(ctx context.Context, st *stackfile.Stack, j *render.Job) (rollout.Result, error) {
	if j.Kind != render.KindApp {
		return rollout.Deploy(ctx, dp.Nomad, j.Job, rollout.Options{Sink: dp.Sink})
	}
	app := st.App(j.Name)
	if app == nil {
		return rollout.Result{}, fmt.Errorf("no app %q in the stack", j.Name)
	}
	r := app.Rollout
	version := j.Job.Meta[jobmeta.Version]
	target := analysis.Target{App: app.Name, Version: version, Namespace: st.Namespace, JobID: j.Name}
	if cur, _, err := dp.Nomad.Jobs().Info(j.Name, (&nomadapi.QueryOptions{}).WithContext(ctx)); err == nil {
		target.StableVersion = cur.Meta[jobmeta.Version]
	}
	opts := dp.options(app, version, fmt.Sprintf("%s released by %s with hstack (%s)", version, dp.DeployedBy, r.Strategy))
	opts.AutoPromote = r.PromotesAutomatically(dp.AutoPromote)
	opts.Detach = dp.Detach
	gate := func(names []string, group string) (rollout.Gate, error) {
		var as []*stackfile.Analysis
		for _, n := range names {
			a, ok := analysis.Lookup(&r, n)
			if !ok {
				return nil, fmt.Errorf("app %s: no analysis %q", app.Name, n)
			}
			as = append(as, a)
		}
		return &Gate{
			Nomad: dp.Nomad, Consul: dp.Consul, Runner: dp.Runner, App: app,
			Smoke: r.SmokeTests, Load: r.LoadTest, Analyses: as, Target: target, CanaryGroup: group,
			HTTP: &http.Client{Timeout: 30 * time.Second}, Report: dp.Report,
		}, nil
	}

	switch {
	case r.Strategy == stackfile.StrategyCanary && len(r.Steps) > 0:
		group := j.Job.TaskGroups[0].Name
		var steps []rollout.Step
		for _, s := range r.Steps {
			g, err := gate(s.Analysis, *group+rollout.CanarySuffix)
			if err != nil {
				return rollout.Result{}, err
			}
			steps = append(steps, rollout.Step{Canary: s.Canary, Pause: s.Pause, Gate: g})
		}
		return rollout.DeploySteps(ctx, dp.Nomad, j.Job, *group, version, steps, opts)
	case r.Strategy == stackfile.StrategyCanary || r.Strategy == stackfile.StrategyBlueGreen:
		var names []string
		for _, a := range r.Analyses {
			names = append(names, a.Name)
		}
		g, err := gate(names, "")
		if err != nil {
			return rollout.Result{}, err
		}
		opts.Gate = g
	}
	return rollout.Deploy(ctx, dp.Nomad, j.Job, opts)
}

// Promote promotes job's waiting canaries (or a paused stepped canary) and
// follows the release to its end, tagged and notified as if deploy had
// promoted it. st, when not nil, says whom to notify.
func (dp *Deployer) Promote(ctx context.Context, st *stackfile.Stack, job string) (rollout.Result, error) {
	version, err := dp.releasing(ctx, job)
	if err != nil {
		return rollout.Result{}, err
	}
	opts := dp.options(dp.app(st, job), version, fmt.Sprintf("%s promoted by %s with hstack", version, dp.DeployedBy))
	return rollout.Promote(ctx, dp.Nomad, job, opts)
}

// Abort fails job's active deployment and follows the revert.
func (dp *Deployer) Abort(ctx context.Context, st *stackfile.Stack, job string) (rollout.Result, error) {
	version, err := dp.releasing(ctx, job)
	if err != nil {
		return rollout.Result{}, err
	}
	opts := dp.options(dp.app(st, job), version, "")
	opts.Tag = ""
	return rollout.Abort(ctx, dp.Nomad, job, opts)
}

// Rollback reverts job to the version to names and follows the revert;
// the notifications name the app version it returns to.
func (dp *Deployer) Rollback(ctx context.Context, st *stackfile.Stack, job string, to rollout.RollbackTo) (rollout.Result, error) {
	version := ""
	versions, _, _, err := dp.Nomad.Jobs().Versions(job, false, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return rollout.Result{}, &rollout.ClusterError{Op: "read versions", Err: err}
	}
	if len(versions) > 0 {
		if v, err := rollout.RollbackTarget(versions, to); err == nil {
			for _, j := range versions {
				if *j.Version == v {
					version = j.Meta[jobmeta.Version]
				}
			}
		}
	}
	opts := dp.options(dp.app(st, job), version, "")
	// The version returned to keeps the tag it was released with.
	opts.Tag = ""
	return rollout.Rollback(ctx, dp.Nomad, job, to, opts)
}

// releasing is the app version job's current release brings: a stepped
// canary's release, or the job's version meta.
func (dp *Deployer) releasing(ctx context.Context, job string) (string, error) {
	cur, _, err := dp.Nomad.Jobs().Info(job, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return "", &rollout.ClusterError{Op: "read job", Err: err}
	}
	if r := cur.Meta[jobmeta.CanaryRelease]; r != "" {
		return r, nil
	}
	return cur.Meta[jobmeta.Version], nil
}

func (dp *Deployer) app(st *stackfile.Stack, job string) *stackfile.App {
	if st == nil {
		return nil
	}
	return st.App(job)
}

// options are what every release operation shares: the sink with
// notifications, and the release tag.
func (dp *Deployer) options(app *stackfile.App, version, tagDescription string) rollout.Options {
	return rollout.Options{
		Sink:           dp.notifying(app, version),
		Tag:            jobmeta.ReleaseTag(version),
		TagDescription: tagDescription,
	}
}

// notifying forwards the engine's events to the sink and, for the ones
// people care about, to the app's notifiers. A notification that cannot be
// sent is reported, never a reason to fail the release.
func (dp *Deployer) notifying(app *stackfile.App, version string) rollout.Sink {
	step := 0
	var lastFailed string // deployment ID
	return rollout.SinkFunc(func(e rollout.Event) {
		if dp.Sink != nil {
			dp.Sink.Emit(e)
		}
		if dp.Notifier == nil || app == nil || len(app.Rollout.Notify) == 0 {
			return
		}
		var t notify.EventType
		switch e.Type {
		case rollout.EventSubmitted:
			if step > 0 {
				return
			}
			t = notify.EventStarted
		case rollout.EventAnalysis:
			step++
			t = notify.EventStep
		case rollout.EventPaused:
			t = notify.EventPaused
		case rollout.EventPromoted:
			t = notify.EventPromoted
		case rollout.EventFailed:
			// The engine reports a failure as it decides it and again as
			// Nomad ends the deployment: people hear of it once.
			if e.DeploymentID != "" && e.DeploymentID == lastFailed {
				return
			}
			lastFailed = e.DeploymentID
			t = notify.EventFailed
		case rollout.EventRolledBack:
			t = notify.EventRolledBack
		default:
			return
		}
		ev := notify.Event{Type: t, App: app.Name, Version: version, Strategy: string(app.Rollout.Strategy),
			Step: step, Message: e.Message, At: e.Time}
		ev.URL = dp.UI.Deployment(app.Name, e.DeploymentID)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dp.Notifier.Send(ctx, app.Rollout.Notify, ev); err != nil && dp.Report != nil {
			dp.Report("notification not delivered: %v", err)
		}
	})
}
