package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/user"
	"slices"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/analysis"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/notify"
	"github.com/hstack-dev/hstack/pkg/release"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

const (
	flagStrategy      = "strategy"
	flagDetach        = "detach"
	flagAutoPromote   = "auto-promote"
	flagPrometheus    = "prometheus-addr"
	flagParallel      = "parallel"
	flagFailFast      = "fail-fast"
	flagSkipPreflight = "skip-preflight"
	catRelease        = "Release"
	deployExitsUsage  = "Exit codes: 0 released (or nothing to change), 1 failed or rolled back, 2 bad\n" +
		"input (nothing submitted), 3 a cluster service unreachable or denied, 4 waiting for a\n" +
		"manual promotion (with --detach)."
	// defaultParallel keeps a big stack's release from flooding a small
	// cluster with canaries at once.
	defaultParallel = 4
)

func deployCommand() *cli.Command {
	return &cli.Command{
		Name:      "deploy",
		Usage:     "release the stack's jobs: rolling, canary or blue-green, gated on health and metrics",
		ArgsUsage: "[APP...]",
		Description: "Renders the stack, checks every service the release depends on, shows the plan,\n" +
			"registers each job through the Nomad API and drives its deployment to a final state:\n" +
			"canaries are smoke-tested and analysed against Prometheus, then promoted or failed\n" +
			"(Nomad's auto_revert restores the stable version). Without APP, the monitoring and\n" +
			"ingress jobs go first, then the apps, --parallel at a time; a failed app does not stop\n" +
			"the others (unless --fail-fast), and the summary lists every app's outcome.\n" +
			"Running it again while the same version is in flight attaches to that deployment.\n\n" +
			deployExitsUsage,
		Flags: append(append(stackFlags(), renderFlags()...),
			&cli.StringFlag{Name: flagStrategy, Category: catRelease, Usage: "override every app's rollout strategy: rolling, canary or blue-green (refused where it would drop part of a rollout)"},
			&cli.BoolFlag{Name: flagDetach, Category: catRelease, Usage: "return (exit 4) once canaries are healthy and wait for `hstack promote`"},
			&cli.BoolFlag{Name: flagAutoPromote, Category: catRelease, Usage: "promote canaries once they pass their gates; --auto-promote=false always waits for a human (default: the stack file's auto_promote, or true when the rollout has steps, analyses, smoke tests or a load test)"},
			&cli.StringFlag{Name: flagPrometheus, Category: catRelease, EnvVars: []string{"HSTACK_PROMETHEUS_ADDR"},
				Usage: "Prometheus `URL` for analyses (default: the passing \"prometheus\" service in Consul)"},
			&cli.IntFlag{Name: flagParallel, Category: catRelease, Value: defaultParallel, Usage: "release at most `N` apps at once"},
			&cli.BoolFlag{Name: flagFailFast, Category: catRelease, Usage: "when an app's release fails, abort the apps in flight (their stable versions come back) and start no more"},
			&cli.BoolFlag{Name: flagSkipPreflight, Category: catRelease, Usage: "do not check Nomad, Consul, Vault and Prometheus before registering anything"},
		),
		Action: deployAction,
	}
}

func deployAction(c *cli.Context) error {
	out := OutputFromContext(c)
	if c.Int(flagParallel) < 1 {
		return UsageErrorf("--%s must be at least 1", flagParallel)
	}
	st, err := loadStackWithStrategy(c)
	if err != nil {
		return err
	}
	ropts, err := renderOptions(c, st)
	if err != nil {
		return err
	}
	jobs, err := render.Render(st, ropts)
	if err != nil {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s cannot be rendered:\n%s", st.Filename, indent(err.Error()))}
	}
	jobs, err = selectJobs(jobs, c.Args().Slice())
	if err != nil {
		return err
	}

	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	cc, err := consulClient(c)
	if err != nil {
		return err
	}
	if !c.Bool(flagSkipPreflight) {
		if err := preflight(c, st, jobs, nc, cc); err != nil {
			return err
		}
	}
	if err := syncServices(c, out, st, nc, cc); err != nil {
		return err
	}
	view := newEventView(out)
	dp, err := newDeployer(c, st, nc, cc, view)
	if err != nil {
		return err
	}
	infra, apps := splitInfra(jobs)

	var outcomes []appOutcome
	// Infrastructure first, one at a time: apps need the ingress for
	// traffic and Prometheus for their analyses.
	for _, j := range infra {
		if err := showPlan(c, out, nc, j, dp.DeployedBy); err != nil {
			return err
		}
		res, err := dp.Deploy(c.Context, st, j)
		view.Done()
		o := appOutcome{Job: j.Name, Result: res, Err: err}
		outcomes = append(outcomes, o)
		if o.code() != ExitOK {
			// The deploy's failure is what to report (and its exit code); a
			// summary that cannot be written adds nothing to it.
			_ = printOutcomes(out, view.ui, outcomes, apps)
			return o.exitError()
		}
	}
	for _, j := range apps {
		if err := showPlan(c, out, nc, j, dp.DeployedBy); err != nil {
			return err
		}
	}
	// Prometheus is looked up only when an app needs it: the first deploy
	// of a stack creates it just before its apps.
	if needsPrometheus(st, apps) {
		runner, err := prometheusRunner(c, cc)
		if err != nil {
			return &ExitError{Code: ExitUnreachable, Err: err}
		}
		dp.Runner = runner
	}
	outcomes = append(outcomes, releaseApps(c.Context, dp, st, apps, c.Int(flagParallel), c.Bool(flagFailFast))...)
	view.Done()
	if err := printOutcomes(out, view.ui, outcomes, nil); err != nil {
		return err
	}
	return worst(outcomes).exitError()
}

// worst is the outcome the run exits with: the highest exit code, so one
// failed app among succeeded ones fails the run.
func worst(outcomes []appOutcome) appOutcome {
	w := appOutcome{}
	for _, o := range outcomes {
		if o.code() > w.code() {
			w = o
		}
	}
	return w
}

// loadStackWithStrategy loads the stack file and applies --strategy,
// reporting an override that contradicts a rollout with the same
// diagnostics `hstack validate` prints.
func loadStackWithStrategy(c *cli.Context) (*stackfile.Stack, error) {
	path, opts := stackOptions(c)
	st, diags := stackfile.Load(path, opts)
	if !diags.HasErrors() && c.IsSet(flagStrategy) {
		diags = append(diags, st.OverrideStrategy(stackfile.Strategy(c.String(flagStrategy)))...)
	}
	if err := reportDiagnostics(c, path, diags, opts.Parser); err != nil {
		return nil, err
	}
	return st, nil
}

// showPlan prints what a release changes, as `nomad job plan` would,
// before anything is submitted.
func showPlan(c *cli.Context, out *Output, nc *nomadapi.Client, j *render.Job, releasedBy string) error {
	carryReleasedBy(c.Context, nc, j)
	resp, _, err := nc.Jobs().Plan(j.Job, true, (&nomadapi.WriteOptions{}).WithContext(c.Context))
	if err != nil {
		return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("nomad plan %s: %w", j.Name, err)}
	}
	markReleasedBy(j, resp, releasedBy)
	if p := summarize(j, resp); out.JSON {
		b, _ := json.Marshal(struct {
			Kind string `json:"kind"`
			jobPlan
		}{"plan", p})
		fmt.Fprintln(out.Stdout, string(b))
	} else {
		printPlan(out, p)
	}
	return nil
}

// appOutcome is how one job's release ended.
type appOutcome struct {
	Job    string
	Result rollout.Result
	Err    error
	// Skipped: --fail-fast stopped the run before this app started.
	Skipped bool
}

func (o appOutcome) code() int {
	var ce *rollout.ClusterError
	switch {
	case o.Job == "":
		return ExitOK
	case errors.As(o.Err, &ce):
		return ExitUnreachable
	case o.Err != nil, o.Skipped:
		return ExitRolledBack
	}
	return outcomeCode(o.Result.Outcome)
}

func (o appOutcome) exitError() error {
	switch code := o.code(); code {
	case ExitOK:
		return nil
	case ExitWaiting:
		return &ExitError{Code: ExitWaiting, Err: errors.New("waiting for promotion: run `hstack promote APP` or `hstack abort APP`")}
	default:
		if o.Err != nil {
			return &ExitError{Code: code, Err: fmt.Errorf("%s: %w", o.Job, o.Err)}
		}
		return &ExitError{Code: code, Err: fmt.Errorf("release failed: %s %s", o.Job, o.status())}
	}
}

func (o appOutcome) status() string {
	switch {
	case o.Skipped:
		return "skipped"
	case o.Err != nil:
		return "error"
	}
	return string(o.Result.Outcome)
}

// releaseApps releases apps through dp.DeployAll: at most parallel at a
// time, a failure letting the others finish unless failFast.
func releaseApps(ctx context.Context, dp *release.Deployer, st *stackfile.Stack, apps []*render.Job, parallel int, failFast bool) []appOutcome {
	var out []appOutcome
	for _, o := range dp.DeployAll(ctx, st, apps, parallel, failFast) {
		out = append(out, appOutcome{Job: o.Job, Result: o.Result, Err: o.Err, Skipped: o.Skipped})
	}
	return out
}

func splitInfra(jobs []*render.Job) (infra, apps []*render.Job) {
	for _, j := range jobs {
		if j.Kind == render.KindApp {
			apps = append(apps, j)
		} else {
			infra = append(infra, j)
		}
	}
	return infra, apps
}

// newDeployer builds the release API every release command shares: the
// live view as sink, notifications from the stack's notifiers (st may be
// nil), who released.
func newDeployer(c *cli.Context, st *stackfile.Stack, nc *nomadapi.Client, cc *consulapi.Client, view *eventView) (*release.Deployer, error) {
	ns := ""
	if st != nil {
		ns = st.Namespace
	}
	ui, err := nomadUI(c, ns)
	if err != nil {
		return nil, err
	}
	view.ui = ui
	dp := &release.Deployer{
		Nomad: nc, Consul: cc, Sink: view, Report: view.Note,
		Detach: c.Bool(flagDetach), UI: ui, DeployedBy: deployedBy(),
	}
	if c.IsSet(flagAutoPromote) {
		v := c.Bool(flagAutoPromote)
		dp.AutoPromote = &v
	}
	if st != nil && len(st.Notifiers) > 0 {
		resolvers := notify.Chain{notify.EnvResolver{Getenv: os.Getenv}}
		if vc, err := clients.Vault(ConfigFromContext(c)); err == nil {
			resolvers = append(resolvers, notify.VaultResolver{Client: vc})
		}
		dp.Notifier = notify.New(st.Notifiers, resolvers, &http.Client{})
	}
	return dp, nil
}

// releaseRun is what promote, abort and rollback share with deploy.
type releaseRun struct {
	dp    *release.Deployer
	stack *stackfile.Stack // nil without a stack file: no notifications
	view  *eventView
}

func newReleaseRun(c *cli.Context) (*releaseRun, error) {
	nc, err := nomadClient(c)
	if err != nil {
		return nil, err
	}
	view := newEventView(OutputFromContext(c))
	r := &releaseRun{view: view}
	// The stack file says whom to notify. An operator stopping a bad
	// release must not be held up by it: without one, or with one that
	// does not load, the operation goes on without notifications.
	if _, err := os.Stat(c.String(flagFile)); err == nil {
		path, opts := stackOptions(c)
		if st, diags := stackfile.Load(path, opts); !diags.HasErrors() {
			r.stack = st
		} else {
			view.Note("notifications off: %s does not load: %v", path, diags)
		}
	}
	if r.dp, err = newDeployer(c, r.stack, nc, nil, view); err != nil {
		return nil, err
	}
	return r, nil
}

// releaseAction is the action of promote, abort and rollback: op on APP
// through the release API, reported like deploy.
func releaseAction(op func(c *cli.Context, r *releaseRun, app string) (rollout.Result, error)) cli.ActionFunc {
	return func(c *cli.Context) error {
		if err := ExactArgs(c, "APP"); err != nil {
			return err
		}
		r, err := newReleaseRun(c)
		if err != nil {
			return err
		}
		res, err := op(c, r, c.Args().First())
		r.view.Done()
		return finishRelease(c, r.view.ui, res, err)
	}
}

func finishRelease(c *cli.Context, ui nomadui.Links, res rollout.Result, err error) error {
	if err != nil {
		var ce *rollout.ClusterError
		switch {
		case errors.As(err, &ce):
			return &ExitError{Code: ExitUnreachable, Err: err}
		case errors.Is(err, rollout.ErrNoActiveDeployment), errors.Is(err, rollout.ErrNoSuchVersion):
			return &ExitError{Code: ExitUsage, Err: err}
		}
		return &ExitError{Code: ExitRolledBack, Err: err}
	}
	if err := printResults(OutputFromContext(c), ui, []rollout.Result{res}); err != nil {
		return err
	}
	code := outcomeCode(res.Outcome)
	if res.Outcome == rollout.RolledBack && (c.Command.Name == "abort" || c.Command.Name == "rollback") {
		code = ExitOK // what was asked for
	}
	if code != ExitOK {
		return &ExitError{Code: code, Err: fmt.Errorf("%s: %s", res.Job, res.Outcome)}
	}
	return nil
}

func outcomeCode(o rollout.Outcome) int {
	switch o {
	case rollout.Succeeded, rollout.NoChange:
		return ExitOK
	case rollout.Waiting:
		return ExitWaiting
	}
	return ExitRolledBack
}

func printResults(out *Output, ui nomadui.Links, results []rollout.Result) error {
	var os []appOutcome
	for _, r := range results {
		os = append(os, appOutcome{Job: r.Job, Result: r})
	}
	return printOutcomes(out, ui, os, nil)
}

// printOutcomes is the summary: one line per job, every one of them,
// including those never started (notStarted).
func printOutcomes(out *Output, ui nomadui.Links, outcomes []appOutcome, notStarted []*render.Job) error {
	for _, j := range notStarted {
		outcomes = append(outcomes, appOutcome{Job: j.Name, Skipped: true})
	}
	for _, o := range outcomes {
		r := o.Result
		if r.Job == "" {
			r.Job = o.Job
		}
		link := ""
		if !o.Skipped && o.Err == nil {
			link = resultLink(ui, r)
		}
		if out.JSON {
			b, err := json.Marshal(struct {
				Kind string `json:"kind"`
				rollout.Result
				Status string `json:"status,omitempty"`
				Error  string `json:"error,omitempty"`
				UI     string `json:"ui,omitempty"`
			}{"result", r, o.status(), errString(o.Err), link})
			if err != nil {
				return err
			}
			fmt.Fprintln(out.Stdout, string(b))
			continue
		}
		line := fmt.Sprintf("%s: %s", r.Job, o.status())
		switch {
		case o.Err != nil:
			line += ": " + o.Err.Error()
		case !o.Skipped && r.Outcome != rollout.NoChange:
			line += fmt.Sprintf(" (version %d, %d Nomad requests)", r.JobVersion, r.Requests)
		}
		fmt.Fprintln(out.Stdout, line)
		if link != "" {
			fmt.Fprintln(out.Stdout, "  Nomad UI: "+link)
		}
		for _, in := range r.Inspections {
			fmt.Fprintf(out.Stdout, "  allocation %s (%s): %s\n", rollout.ShortID(in.AllocID), in.Status, ui.Allocation(in.AllocID))
		}
	}
	return nil
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// selectJobs keeps the named apps (or jobs); with none named, infrastructure
// first (apps' analyses need Prometheus, their traffic the ingress), then
// apps, each in rendering order.
func selectJobs(jobs []*render.Job, names []string) ([]*render.Job, error) {
	if len(names) == 0 {
		infra, apps := splitInfra(jobs)
		return append(infra, apps...), nil
	}
	var out []*render.Job
	for _, n := range names {
		i := slices.IndexFunc(jobs, func(j *render.Job) bool { return j.Name == n })
		if i < 0 {
			var known []string
			for _, j := range jobs {
				known = append(known, j.Name)
			}
			return nil, UsageErrorf("no app or job %q in the stack (have: %s)", n, strings.Join(known, ", "))
		}
		out = append(out, jobs[i])
	}
	return out, nil
}

// needsPrometheus tells whether releasing jobs queries Prometheus.
func needsPrometheus(st *stackfile.Stack, jobs []*render.Job) bool {
	for _, j := range jobs {
		if a := st.App(j.Name); a != nil && j.Kind == render.KindApp && a.Rollout.NeedsPrometheus() {
			return true
		}
	}
	return false
}

// prometheusAddr finds Prometheus: the flag, else the passing
// "prometheus" service the monitoring jobs register in Consul.
func prometheusAddr(c *cli.Context, cc *consulapi.Client) (string, error) {
	if addr := c.String(flagPrometheus); addr != "" {
		return addr, nil
	}
	entries, _, err := cc.Health().Service("prometheus", "", true, (&consulapi.QueryOptions{}).WithContext(c.Context))
	if err != nil {
		return "", fmt.Errorf("finding Prometheus in Consul: %w", err)
	}
	if len(entries) == 0 {
		return "", errors.New("the rollout runs analyses but no passing \"prometheus\" service is in Consul: deploy the monitoring jobs or set --prometheus-addr")
	}
	e := entries[0]
	host := e.Service.Address
	if host == "" {
		host = e.Node.Address
	}
	return fmt.Sprintf("http://%s:%d", host, e.Service.Port), nil
}

func prometheusRunner(c *cli.Context, cc *consulapi.Client) (*analysis.Runner, error) {
	addr, err := prometheusAddr(c, cc)
	if err != nil {
		return nil, err
	}
	return analysis.NewRunner(addr)
}

// deployedBy names who released, for the version tag people see in the
// Nomad UI: CI's actor when there is one.
func deployedBy() string {
	for _, k := range []string{"HSTACK_DEPLOYED_BY", "GITHUB_ACTOR", "GITLAB_USER_LOGIN", "BUILDKITE_BUILD_CREATOR"} {
		if v := os.Getenv(k); v != "" {
			return v
		}
	}
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	if h, err := os.Hostname(); err == nil {
		name += "@" + h
	}
	return name
}
