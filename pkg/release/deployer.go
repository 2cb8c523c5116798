package release

import (
	"context"
	"fmt"
	"net/http"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/analysis"
	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/notify"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Deployer releases the jobs of a rendered stack.
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
	// UIAddr is the Nomad UI (or Nomad API) address for links in
	// notifications; see nomadui.New.
	UIAddr string
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
	version := j.Job.Meta["version"]
	target := analysis.Target{App: app.Name, Version: version, Namespace: st.Namespace, JobID: j.Name}
	if cur, _, err := dp.Nomad.Jobs().Info(j.Name, (&nomadapi.QueryOptions{}).WithContext(ctx)); err == nil {
		target.StableVersion = cur.Meta["version"]
	}
	autoPromote := r.AutoPromote || len(r.Steps) > 0 || len(r.Analyses) > 0 || len(r.SmokeTests) > 0
	if dp.AutoPromote != nil {
		autoPromote = *dp.AutoPromote
	}
	opts := rollout.Options{
		AutoPromote:    autoPromote,
		Detach:         dp.Detach,
		Sink:           dp.notifying(st, app, version),
		Tag:            "release-" + sanitizeTag(version),
		TagDescription: fmt.Sprintf("%s released by %s with hstack (%s)", version, dp.DeployedBy, r.Strategy),
	}
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

// notifying forwards the engine's events to the sink and, for the ones
// people care about, to the app's notifiers. A notification that cannot be
// sent is reported, never a reason to fail the release.
func (dp *Deployer) notifying(st *stackfile.Stack, app *stackfile.App, version string) rollout.Sink {
	step := 0
	return rollout.SinkFunc(func(e rollout.Event) {
		if dp.Sink != nil {
			dp.Sink.Emit(e)
		}
		if dp.Notifier == nil || len(app.Rollout.Notify) == 0 {
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
			t = notify.EventFailed
		case rollout.EventRolledBack:
			t = notify.EventRolledBack
		default:
			return
		}
		ev := notify.Event{Type: t, App: app.Name, Version: version, Strategy: string(app.Rollout.Strategy),
			Step: step, Message: e.Message, At: e.Time}
		if ui, err := nomadui.New(dp.UIAddr, st.Namespace); err == nil {
			ev.URL = ui.Deployment(app.Name, e.DeploymentID)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := dp.Notifier.Send(ctx, app.Rollout.Notify, ev); err != nil && dp.Report != nil {
			dp.Report("notification not delivered: %v", err)
		}
	})
}

// sanitizeTag keeps a version usable as a Nomad version tag name.
func sanitizeTag(v string) string {
	out := []rune{}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "unversioned"
	}
	return string(out)
}
