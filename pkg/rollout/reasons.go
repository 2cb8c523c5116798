package rollout

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// A deployment's counts say that allocations are unhealthy, not why; the
// why is in their task events (a Vault token that cannot be derived, a
// template that cannot render, a driver failure, a crash), and waiting for
// the deployment's deadline to show it wastes the operator's time. So while
// the engine follows a deployment, it also follows the deployment's
// allocations and reports the newest task event of each one in trouble,
// once per distinct reason.

// problemEvents are the task event types that say something is wrong.
var problemEvents = map[string]bool{
	nomadapi.TaskSetupFailure:           true,
	nomadapi.TaskDriverFailure:          true,
	nomadapi.TaskFailedValidation:       true,
	nomadapi.TaskArtifactDownloadFailed: true,
	nomadapi.TaskKilling:                true,
	nomadapi.TaskRestarting:             true,
	nomadapi.TaskNotRestarting:          true,
	nomadapi.TaskTerminated:             true,
	"Task hook failed":                  true,
	nomadapi.TaskSiblingFailed:          true,
	"Template":                          true,
	"Alloc Unhealthy":                   true,
}

// troubleReason returns the reason an allocation is in trouble, from the
// newest task event of its tasks, or "" when nothing is wrong. It is a pure
// function of what Nomad reports about the allocation.
func troubleReason(a *nomadapi.AllocationListStub) string {
	if a.DesiredStatus != nomadapi.AllocDesiredStatusRun && a.ClientStatus != nomadapi.AllocClientStatusFailed {
		return "" // being stopped on purpose
	}
	unhealthy := a.ClientStatus == nomadapi.AllocClientStatusFailed ||
		(a.DeploymentStatus != nil && a.DeploymentStatus.Healthy != nil && !*a.DeploymentStatus.Healthy)
	names := make([]string, 0, len(a.TaskStates))
	for n := range a.TaskStates {
		names = append(names, n)
	}
	sort.Strings(names)
	var newest *nomadapi.TaskEvent
	for _, n := range names {
		ts := a.TaskStates[n]
		if len(ts.Events) == 0 {
			continue
		}
		if ev := ts.Events[len(ts.Events)-1]; newest == nil || ev.Time > newest.Time {
			newest = ev
		}
	}
	if newest == nil {
		return ""
	}
	msg := strings.TrimSpace(newest.DisplayMessage)
	if msg == "" {
		msg = strings.TrimSpace(newest.Message)
	}
	switch {
	case !problemEvents[newest.Type] && !unhealthy:
		return ""
	case newest.Type == "Template" && strings.Contains(msg, "re-rendered"):
		return ""
	case newest.Type == nomadapi.TaskTerminated && strings.HasPrefix(msg, "Exit Code: 0") && !unhealthy:
		return ""
	}
	return strings.TrimSpace(newest.Type + ": " + msg)
}

// watchReasons follows deployment id's allocations until stopped and
// emits each new reason one of them is in trouble. Stopping it sweeps once
// more, so whatever made the caller stop watching (a crash loop, a failed
// deployment) has had its reasons said.
func (w *watcher) watchReasons(ctx context.Context, id string) (stop func()) {
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var index uint64
		for wctx.Err() == nil {
			q := (&nomadapi.QueryOptions{WaitIndex: index, WaitTime: blockingWait}).WithContext(wctx)
			stubs, meta, err := w.nomad.Deployments().Allocations(id, q)
			if err != nil {
				return // best effort: the deployment watch reports failures
			}
			w.report(id, stubs)
			index = meta.LastIndex
		}
	}()
	return func() {
		cancel()
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		if stubs, _, err := w.nomad.Deployments().Allocations(id, (&nomadapi.QueryOptions{}).WithContext(ctx)); err == nil {
			w.report(id, stubs)
		}
	}
}

func (w *watcher) report(id string, stubs []*nomadapi.AllocationListStub) {
	sort.Slice(stubs, func(i, j int) bool { return stubs[i].CreateIndex < stubs[j].CreateIndex })
	for _, a := range stubs {
		r := troubleReason(a)
		if r == "" || w.reasons[r] {
			continue
		}
		w.reasons[r] = true
		w.sink.Emit(Event{Time: time.Now(), Type: EventTaskEvent, Job: w.job, JobVersion: a.JobVersion, DeploymentID: id,
			Message: fmt.Sprintf("allocation %s (%s): %s", ShortID(a.ID), a.TaskGroup, r)})
	}
}
