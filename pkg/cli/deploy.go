package cli

import (
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

// Exit codes of deploy and the release commands, for CI.
const (
	ExitRolledBack  = 1 // the release failed or was rolled back
	ExitUnreachable = 3 // Nomad, Consul, Vault or Prometheus unreachable or denied
	ExitWaiting     = 4 // canaries healthy, waiting for a human to promote
)

const (
	flagStrategy     = "strategy"
	flagDetach       = "detach"
	flagAutoPromote  = "auto-promote"
	flagPrometheus   = "prometheus-addr"
	catRelease       = "Release"
	deployExitsUsage = "Exit codes: 0 released (or nothing to change), 1 failed or rolled back, 2 bad\n" +
		"input (nothing submitted), 3 a cluster service unreachable or denied, 4 waiting for a\n" +
		"manual promotion (with --detach)."
)

func deployCommand() *cli.Command {
	return &cli.Command{
		Name:      "deploy",
		Usage:     "release the stack's jobs: rolling, canary or blue-green, gated on health and metrics",
		ArgsUsage: "[APP...]",
		Description: "Renders the stack, shows the plan, registers each job through the Nomad API and drives\n" +
			"its deployment to a final state: canaries are smoke-tested and analysed against\n" +
			"Prometheus, then promoted or failed (Nomad's auto_revert restores the stable\n" +
			"version). Without APP, the monitoring and ingress jobs go first, then every app.\n" +
			"Running it again while the same version is in flight attaches to that deployment.\n\n" +
			deployExitsUsage,
		Flags: append(append(stackFlags(), renderFlags()...),
			&cli.StringFlag{Name: flagStrategy, Category: catRelease, Usage: "override every app's rollout strategy: rolling, canary or blue-green"},
			&cli.BoolFlag{Name: flagDetach, Category: catRelease, Usage: "return (exit 4) once canaries are healthy and wait for `hstack promote`"},
			&cli.BoolFlag{Name: flagAutoPromote, Category: catRelease, Usage: "promote canaries once they pass their gates; --auto-promote=false always waits for a human (default: the stack file's auto_promote, or true when the rollout has steps, analyses or smoke tests)"},
			&cli.StringFlag{Name: flagPrometheus, Category: catRelease, EnvVars: []string{"HSTACK_PROMETHEUS_ADDR"},
				Usage: "Prometheus `URL` for analyses (default: the passing \"prometheus\" service in Consul)"},
		),
		Action: deployAction,
	}
}

func deployAction(c *cli.Context) error {
	out := OutputFromContext(c)
	st, err := loadStack(c)
	if err != nil {
		return err
	}
	if err := applyStrategy(c, st); err != nil {
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

	cfg := ConfigFromContext(c)
	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	cc, err := consulClient(c)
	if err != nil {
		return err
	}
	if err := syncServices(c, out, st, nc, cc); err != nil {
		return err
	}
	ui, err := nomadUI(c, st.Namespace)
	if err != nil {
		return err
	}
	view := newEventView(out)
	view.ui = ui
	dp := &release.Deployer{
		Nomad: nc, Consul: cc, Sink: view, Report: view.Note,
		Detach: c.Bool(flagDetach), UIAddr: ui.Base(), DeployedBy: deployedBy(),
	}
	if c.IsSet(flagAutoPromote) {
		v := c.Bool(flagAutoPromote)
		dp.AutoPromote = &v
	}
	if len(st.Notifiers) > 0 {
		resolvers := notify.Chain{notify.EnvResolver{Getenv: os.Getenv}}
		if vc, err := clients.Vault(cfg); err == nil {
			resolvers = append(resolvers, notify.VaultResolver{Client: vc})
		}
		dp.Notifier = notify.New(st.Notifiers, resolvers, &http.Client{})
	}

	worst := ExitOK
	var results []rollout.Result
	for _, j := range jobs {
		// The plan first, as `nomad job plan` would show it: what this
		// release changes, before anything is submitted.
		carryReleasedBy(c.Context, nc, j)
		resp, _, err := nc.Jobs().Plan(j.Job, true, (&nomadapi.WriteOptions{}).WithContext(c.Context))
		if err != nil {
			return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("nomad plan %s: %w", j.Name, err)}
		}
		markReleasedBy(j, resp, dp.DeployedBy)
		if p := summarize(j, resp); out.JSON {
			b, _ := json.Marshal(struct {
				Kind string `json:"kind"`
				jobPlan
			}{"plan", p})
			fmt.Fprintln(out.Stdout, string(b))
		} else {
			printPlan(out, p)
		}
		// Prometheus is looked up only when an app needs it: the first
		// deploy of a stack creates it, just before its apps.
		if dp.Runner == nil && needsAnalysis(st, []*render.Job{j}) {
			runner, err := prometheusRunner(c, cc)
			if err != nil {
				return &ExitError{Code: ExitUnreachable, Err: err}
			}
			dp.Runner = runner
		}
		res, err := dp.Deploy(c.Context, st, j)
		view.Done()
		results = append(results, res)
		if err != nil {
			var ce *rollout.ClusterError
			if errors.As(err, &ce) {
				return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("%s: %w", j.Name, err)}
			}
			return &ExitError{Code: ExitRolledBack, Err: fmt.Errorf("%s: %w", j.Name, err)}
		}
		code := outcomeCode(res.Outcome)
		if code > worst {
			worst = code
		}
		if code == ExitRolledBack {
			// The rest would be released on top of a failure.
			break
		}
	}
	if err := printResults(out, ui, results); err != nil {
		return err
	}
	switch worst {
	case ExitOK:
		return nil
	case ExitWaiting:
		return &ExitError{Code: ExitWaiting, Err: errors.New("waiting for promotion: run `hstack promote APP` or `hstack abort APP`")}
	}
	return &ExitError{Code: worst, Err: errors.New("release failed")}
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
	for _, r := range results {
		if out.JSON {
			b, err := json.Marshal(struct {
				Kind string `json:"kind"`
				rollout.Result
				UI string `json:"ui,omitempty"`
			}{"result", r, resultLink(ui, r)})
			if err != nil {
				return err
			}
			fmt.Fprintln(out.Stdout, string(b))
			continue
		}
		line := fmt.Sprintf("%s: %s", r.Job, r.Outcome)
		if r.Outcome != rollout.NoChange {
			line += fmt.Sprintf(" (version %d, %d Nomad requests)", r.JobVersion, r.Requests)
		}
		fmt.Fprintln(out.Stdout, line)
		if l := resultLink(ui, r); l != "" {
			fmt.Fprintln(out.Stdout, "  Nomad UI: "+l)
		}
		for _, in := range r.Inspections {
			fmt.Fprintf(out.Stdout, "  allocation %s (%s): %s\n", shortID(in.AllocID), in.Status, ui.Allocation(in.AllocID))
		}
	}
	return nil
}

// applyStrategy applies --strategy to every app before rendering, so the
// update block Nomad gets matches it.
func applyStrategy(c *cli.Context, st *stackfile.Stack) error {
	if !c.IsSet(flagStrategy) {
		return nil
	}
	s := stackfile.Strategy(c.String(flagStrategy))
	switch s {
	case stackfile.StrategyRolling, stackfile.StrategyCanary, stackfile.StrategyBlueGreen:
	default:
		return UsageErrorf("invalid --%s %q: want rolling, canary or blue-green", flagStrategy, s)
	}
	for _, a := range st.Apps {
		a.Rollout.Strategy = s
		switch s {
		case stackfile.StrategyCanary:
			if a.Rollout.Canary == 0 {
				a.Rollout.Canary = 1
			}
		case stackfile.StrategyBlueGreen:
			a.Rollout.Canary = a.Count
			a.Rollout.Steps = nil
		case stackfile.StrategyRolling:
			a.Rollout.Canary = 0
			a.Rollout.Steps = nil
		}
	}
	return nil
}

// selectJobs keeps the named apps (or jobs); with none named, infrastructure
// first (apps' analyses need Prometheus, their traffic the ingress), then
// apps, each in rendering order.
func selectJobs(jobs []*render.Job, names []string) ([]*render.Job, error) {
	if len(names) == 0 {
		var infra, apps []*render.Job
		for _, j := range jobs {
			if j.Kind == render.KindApp {
				apps = append(apps, j)
			} else {
				infra = append(infra, j)
			}
		}
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

func needsAnalysis(st *stackfile.Stack, jobs []*render.Job) bool {
	for _, j := range jobs {
		if a := st.App(j.Name); a != nil && j.Kind == render.KindApp {
			if len(a.Rollout.Analyses) > 0 && a.Rollout.Strategy != stackfile.StrategyRolling {
				return true
			}
			for _, s := range a.Rollout.Steps {
				if len(s.Analysis) > 0 {
					return true
				}
			}
		}
	}
	return false
}

// prometheusRunner finds Prometheus: the flag, else the passing
// "prometheus" service the monitoring jobs register in Consul.
func prometheusRunner(c *cli.Context, cc *consulapi.Client) (*analysis.Runner, error) {
	addr := c.String(flagPrometheus)
	if addr == "" {
		entries, _, err := cc.Health().Service("prometheus", "", true, (&consulapi.QueryOptions{}).WithContext(c.Context))
		if err != nil {
			return nil, fmt.Errorf("finding Prometheus in Consul: %w", err)
		}
		if len(entries) == 0 {
			return nil, errors.New("the rollout runs analyses but no passing \"prometheus\" service is in Consul: deploy the monitoring jobs or set --prometheus-addr")
		}
		e := entries[0]
		host := e.Service.Address
		if host == "" {
			host = e.Node.Address
		}
		addr = fmt.Sprintf("http://%s:%d", host, e.Service.Port)
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
