// Package release turns a stack file's rollout settings into what the
// rollout engine runs: gates that smoke-test each canary and analyse its
// metrics, and notifications.
package release

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/prometheus/common/model"

	"github.com/hstack-dev/hstack/pkg/analysis"
	"github.com/hstack-dev/hstack/pkg/loadgen"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Gate judges healthy canaries: every smoke test against every canary
// directly, then every analysis, in order. The first failure fails the
// release; an inconclusive analysis pauses it.
type Gate struct {
	Nomad  *nomadapi.Client
	Consul *consulapi.Client
	Runner *analysis.Runner // nil when no analysis is configured
	App    *stackfile.App
	Smoke  []*stackfile.SmokeTest
	// Load, when set, sends traffic for as long as the analyses run.
	Load     *stackfile.LoadTest
	Analyses []*stackfile.Analysis
	Target   analysis.Target
	// CanaryGroup selects the canaries of a stepped release (the canary
	// task group); "" means Nomad's own canaries of the deployment.
	CanaryGroup string
	HTTP        *http.Client
	// Report receives one line per smoke test result and analysis.
	Report func(format string, args ...any)

	deployment *nomadapi.Deployment // being judged
	notes      []string             // its findings so far
	saveFailed bool
}

// Check implements rollout.Gate.
func (g *Gate) Check(ctx context.Context, d *nomadapi.Deployment) (rollout.Verdict, string, error) {
	g.judging(d)
	allocs, err := g.canaries(ctx, d)
	if err != nil {
		return rollout.Fail, "", err
	}
	if len(allocs) == 0 {
		return rollout.Inconclusive, "no running canary allocations found", nil
	}
	t := g.Target
	t.AllocIDs = allocs
	hc := g.HTTP
	if hc == nil {
		hc = &http.Client{}
	}
	for _, st := range g.Smoke {
		addrs, err := g.addresses(ctx, st.Port, allocs)
		if err != nil {
			return rollout.Fail, "", err
		}
		if len(addrs) < len(allocs) {
			return rollout.Fail, fmt.Sprintf("smoke test %s: %d of %d canaries are registered in Consul", st.Name, len(addrs), len(allocs)), nil
		}
		rs := analysis.Smoke(ctx, hc, st, addrs)
		for _, r := range rs {
			g.report("smoke test %s on %s: %s", st.Name, r.Addr, smokeLine(r))
		}
		if !analysis.AllPassed(rs) {
			return rollout.Fail, fmt.Sprintf("smoke test %s failed", st.Name), nil
		}
	}
	if g.Load != nil {
		run, err := g.startLoad(ctx, allocs)
		if err != nil {
			return rollout.Fail, "", err
		}
		defer func() { g.report("load test: %s", run.Stop()) }()
	}
	var passed []string
	if len(g.Analyses) > 0 && g.Runner != nil {
		if msg, ok := g.scraped(ctx, allocs); !ok {
			return rollout.Inconclusive, msg, nil
		}
	}
	for _, a := range g.Analyses {
		if g.Runner == nil {
			return rollout.Fail, "", fmt.Errorf("analysis %s needs Prometheus: none found (set --prometheus-addr or run the monitoring jobs)", a.Name)
		}
		res, err := g.Runner.Run(ctx, a, t)
		if err != nil {
			return rollout.Fail, "", err
		}
		g.report("analysis %s: %s: %s", a.Name, res.Phase, res.Message)
		switch res.Phase {
		case analysis.Failed:
			return rollout.Fail, fmt.Sprintf("analysis %s failed: %s", a.Name, res.Message), nil
		case analysis.Inconclusive:
			return rollout.Inconclusive, fmt.Sprintf("analysis %s inconclusive: %s", a.Name, res.Message), nil
		}
		passed = append(passed, a.Name)
	}
	msg := fmt.Sprintf("%d canar%s healthy", len(allocs), map[bool]string{true: "y", false: "ies"}[len(allocs) == 1])
	if len(g.Smoke) > 0 {
		msg += fmt.Sprintf(", %d smoke test(s) passed", len(g.Smoke))
	}
	if len(passed) > 0 {
		msg += ", analyses passed: " + strings.Join(passed, ", ")
	}
	return rollout.Pass, msg, nil
}

// scrapeWait bounds how long analysis waits for Prometheus to find the
// canaries: discovery runs through Consul, a Nomad template and file_sd, and
// rate() needs two samples.
const scrapeWait = 2 * time.Minute

// scraped waits until Prometheus holds at least two scrapes of every canary
// allocation, so the first measurements judge the canary rather than the
// absence of data.
func (g *Gate) scraped(ctx context.Context, allocs []string) (string, bool) {
	q := fmt.Sprintf(`count by (alloc_id) (count_over_time(up{alloc_id=~"%s"}[5m]) >= 2)`, strings.Join(allocs, "|"))
	deadline := time.Now().Add(scrapeWait)
	var last string
	for {
		v, _, _, err := g.Runner.Prom.Query(ctx, q, time.Now())
		if err != nil {
			last = err.Error()
		} else if vec, ok := v.(model.Vector); ok && len(vec) >= len(allocs) {
			g.report("Prometheus is scraping all %d canar%s", len(allocs), map[bool]string{true: "y", false: "ies"}[len(allocs) == 1])
			return "", true
		} else {
			last = fmt.Sprintf("%d of %d canaries scraped twice", len(vec), len(allocs))
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("Prometheus did not scrape the canaries within %v (%s): is the monitoring job running, and do the canaries serve /metrics?", scrapeWait, last), false
		}
		select {
		case <-ctx.Done():
			return ctx.Err().Error(), false
		case <-time.After(2 * time.Second):
		}
	}
}

// startLoad begins the load test: through its URL, or at each canary
// directly.
func (g *Gate) startLoad(ctx context.Context, allocs []string) (*loadgen.Run, error) {
	lt := g.Load
	targets := []string{lt.URL}
	if lt.URL == "" {
		addrs, err := g.addresses(ctx, lt.Port, allocs)
		if err != nil {
			return nil, err
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("load test: no canary of %s is registered in Consul", g.App.Name)
		}
		targets = targets[:0]
		for _, a := range addrs {
			targets = append(targets, "http://"+a+lt.Path)
		}
	}
	g.report("load test: %d requests/s to %s", lt.Rate, strings.Join(targets, ", "))
	return loadgen.Start(ctx, loadgen.Config{
		Targets: targets, Rate: lt.Rate, Timeout: lt.Timeout,
		ExpectStatus: lt.ExpectStatus, ExpectBody: lt.ExpectBody,
	})
}

func (g *Gate) report(format string, args ...any) {
	if g.Report != nil {
		g.Report(format, args...)
	}
	g.notes = append(g.notes, fmt.Sprintf(format, args...))
	// Best effort, so `hstack status` elsewhere can show it; the release
	// itself does not depend on it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rollout.SaveGateNotes(ctx, g.Nomad, g.deployment.JobID, g.deployment.ID, g.notes); err != nil && !g.saveFailed {
		g.saveFailed = true
		if g.Report != nil {
			g.Report("could not save the gate's findings for `hstack status` (Nomad variable %s): %v", rollout.GateVariable(g.deployment.JobID), err)
		}
	}
}

// judging starts the notes afresh for a deployment not judged before: a
// stepped release judges several deployments, a resumed one the same again.
func (g *Gate) judging(d *nomadapi.Deployment) {
	if g.deployment == nil || g.deployment.ID != d.ID {
		g.notes = nil
	}
	g.deployment = d
}

func smokeLine(r analysis.SmokeResult) string {
	if r.OK {
		return fmt.Sprintf("passed (%d)", r.Status)
	}
	return "FAILED: " + r.Err
}

// canaries lists the running canary allocations of d.
func (g *Gate) canaries(ctx context.Context, d *nomadapi.Deployment) ([]string, error) {
	stubs, _, err := g.Nomad.Deployments().Allocations(d.ID, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, s := range stubs {
		if s.ClientStatus != nomadapi.AllocClientStatusRunning || s.DesiredStatus != nomadapi.AllocDesiredStatusRun {
			continue
		}
		canary := s.DeploymentStatus != nil && s.DeploymentStatus.Canary
		if g.CanaryGroup != "" {
			canary = s.TaskGroup == g.CanaryGroup
		}
		if canary {
			ids = append(ids, s.ID)
		}
	}
	if g.CanaryGroup != "" && len(ids) == 0 {
		// A stepped release's earlier step: its allocations belong to an
		// older deployment. Take the group's running allocations.
		stubs, _, err := g.Nomad.Jobs().Allocations(d.JobID, false, (&nomadapi.QueryOptions{}).WithContext(ctx))
		if err != nil {
			return nil, err
		}
		for _, s := range stubs {
			if s.TaskGroup == g.CanaryGroup && s.ClientStatus == nomadapi.AllocClientStatusRunning && s.DesiredStatus == nomadapi.AllocDesiredStatusRun {
				ids = append(ids, s.ID)
			}
		}
	}
	return ids, nil
}

// addresses finds each canary's address in Consul: the instance of the
// port's service that Nomad registered for that allocation (its service ID
// contains the allocation ID).
func (g *Gate) addresses(ctx context.Context, port string, allocs []string) ([]string, error) {
	svc := render.ServiceName(g.App, port)
	var out []string
	var index uint64
	deadline := time.Now().Add(30 * time.Second)
	for {
		// Nomad registers services a moment after the task starts: wait
		// for the catalog to change (a blocking query) until it has them.
		q := &consulapi.QueryOptions{WaitIndex: index, WaitTime: time.Until(deadline)}
		entries, meta, err := g.Consul.Catalog().Service(svc, "", q.WithContext(ctx))
		if err != nil {
			return nil, err
		}
		// An index that goes backwards (a Consul restart) must not block
		// on a future that never comes.
		if index = meta.LastIndex; index < q.WaitIndex {
			index = 0
		}
		out = out[:0]
		for _, id := range allocs {
			for _, e := range entries {
				if strings.Contains(e.ServiceID, id) {
					out = append(out, fmt.Sprintf("%s:%d", e.ServiceAddress, e.ServicePort))
					break
				}
			}
		}
		if len(out) == len(allocs) || !time.Now().Before(deadline) {
			return out, nil
		}
	}
}
