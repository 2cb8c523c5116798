package rollout

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/nomadfake"
)

// The engine against pkg/nomadfake: every path of a release, in
// milliseconds. The integration tests prove the same against real Nomad.

type spec struct {
	version string
	count   int
	canary  int
	// autoRevert defaults to true; noRevert turns it off.
	noRevert    bool
	autoPromote bool
}

func testJob(s spec) *nomadapi.Job {
	if s.count == 0 {
		s.count = 2
	}
	j := nomadapi.NewServiceJob("web", "web", "global", 50)
	j.Meta = map[string]string{jobmeta.Version: s.version, jobmeta.Strategy: "canary"}
	tg := nomadapi.NewTaskGroup("web", s.count)
	task := nomadapi.NewTask("web", "raw_exec")
	task.Env = map[string]string{"VERSION": s.version}
	tg.Tasks = []*nomadapi.Task{task}
	tg.Services = []*nomadapi.Service{{Name: "web", PortLabel: "http", Tags: []string{"web"}, CanaryTags: []string{"web", jobmeta.Canary}}}
	tg.Update = &nomadapi.UpdateStrategy{
		Canary: ptr(s.canary), AutoRevert: ptr(!s.noRevert), AutoPromote: ptr(s.autoPromote), MaxParallel: ptr(1),
	}
	j.TaskGroups = []*nomadapi.TaskGroup{tg}
	return j
}

func ptr[T any](v T) *T { return &v }

// recorder is a Sink that keeps every event.
type recorder struct {
	mu     sync.Mutex
	events []Event
	// on, when set, runs for each event (outside the lock).
	on func(Event)
}

func (r *recorder) Emit(e Event) {
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	if r.on != nil {
		r.on(e)
	}
}

func (r *recorder) types() []EventType {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []EventType
	for _, e := range r.events {
		if e.Type != EventProgress {
			out = append(out, e.Type)
		}
	}
	return out
}

func (r *recorder) has(t EventType, substr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e.Type == t && strings.Contains(e.Message, substr) {
			return true
		}
	}
	return false
}

func (r *recorder) count(t EventType, substr string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == t && strings.Contains(e.Message, substr) {
			n++
		}
	}
	return n
}

type gateFunc func(context.Context, *nomadapi.Deployment) (Verdict, string, error)

func (g gateFunc) Check(ctx context.Context, d *nomadapi.Deployment) (Verdict, string, error) {
	return g(ctx, d)
}

func verdict(v Verdict) Gate {
	return gateFunc(func(context.Context, *nomadapi.Deployment) (Verdict, string, error) {
		return v, "gate says " + v.String(), nil
	})
}

// fixture is a fake Nomad with web's first version released.
type fixture struct {
	t    *testing.T
	fake *nomadfake.Fake
	api  *nomadapi.Client
}

func newFixture(t *testing.T, first *spec) *fixture {
	t.Helper()
	f := &fixture{t: t, fake: nomadfake.New()}
	f.api = f.fake.Client()
	if first != nil {
		res, err := Deploy(f.ctx(), f.api, testJob(*first), Options{})
		if err != nil || res.Outcome != Succeeded {
			t.Fatalf("first release: %s, %v", res.Outcome, err)
		}
	}
	return f
}

func (f *fixture) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	f.t.Cleanup(cancel)
	return ctx
}

// serving is the app versions of web's running allocations.
func (f *fixture) serving() map[string]int {
	f.t.Helper()
	stubs, _, err := f.api.Jobs().Allocations("web", false, nil)
	if err != nil {
		f.t.Fatal(err)
	}
	// What a group runs is its task's VERSION (a stepped canary's job
	// meta is the stable version's).
	versions := map[string]string{}
	for _, j := range f.fake.Jobs("web") {
		for _, tg := range j.TaskGroups {
			versions[fmt.Sprint(*j.Version, *tg.Name)] = tg.Tasks[0].Env["VERSION"]
		}
	}
	out := map[string]int{}
	for _, s := range stubs {
		if s.DesiredStatus == nomadapi.AllocDesiredStatusRun && s.ClientStatus == nomadapi.AllocClientStatusRunning {
			out[versions[fmt.Sprint(s.JobVersion, s.TaskGroup)]]++
		}
	}
	return out
}

func (f *fixture) current() *nomadapi.Job {
	vs := f.fake.Jobs("web")
	return vs[len(vs)-1]
}

func (f *fixture) wantServing(want map[string]int) {
	f.t.Helper()
	got := f.serving()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		f.t.Fatalf("serving %v, want %v", got, want)
	}
}

func TestRollingRelease(t *testing.T) {
	f := newFixture(t, nil)
	rec := &recorder{}
	before := len(f.fake.Requests())
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "1.0"}), Options{Sink: rec, Tag: jobmeta.ReleaseTag("1.0")})
	served := len(f.fake.Requests()) - before
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if res.JobVersion != 0 || res.DeploymentID == "" {
		t.Errorf("result %+v", res)
	}
	f.wantServing(map[string]int{"1.0": 2})
	if got := f.current().VersionTag; got == nil || got.Name != "release-1.0" {
		t.Errorf("version tag %+v, want release-1.0", got)
	}
	if res.Requests != served {
		t.Errorf("Requests = %d, the fake served %d", res.Requests, served)
	}
	if got := fmt.Sprint(rec.types()); got != "[submitted deployment succeeded]" {
		t.Errorf("events %s", got)
	}

	// The same spec again: nothing to do.
	res, err = Deploy(f.ctx(), f.api, testJob(spec{version: "1.0"}), Options{})
	if err != nil || res.Outcome != NoChange {
		t.Fatalf("again: %s, %v", res.Outcome, err)
	}

	// A new version replaces the old one completely.
	res, err = Deploy(f.ctx(), f.api, testJob(spec{version: "2.0"}), Options{})
	if err != nil || res.Outcome != Succeeded || res.JobVersion != 1 {
		t.Fatalf("2.0: %s v%d, %v", res.Outcome, res.JobVersion, err)
	}
	f.wantServing(map[string]int{"2.0": 2})
	// Its outcome is recorded for history once Nomad forgets it.
	if v := f.fake.Variable(ReleasesVariable("web")); v == nil || !strings.Contains(v.Items["1"], "successful") {
		t.Errorf("recorded outcomes: %+v", v)
	}
}

func TestCanaryPromotedWhenGatePasses(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	rec := &recorder{}
	calls := 0
	gate := gateFunc(func(_ context.Context, d *nomadapi.Deployment) (Verdict, string, error) {
		calls++
		if !canariesHealthy(d) {
			t.Error("gate called before the canaries were healthy")
		}
		return Pass, "smoke tests passed", nil
	})
	// Nomad's own auto_promote must be off when hstack gates the canaries.
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1, autoPromote: true}),
		Options{AutoPromote: true, Gate: gate, Sink: rec})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if calls != 1 {
		t.Errorf("gate called %d times", calls)
	}
	if *f.current().TaskGroups[0].Update.AutoPromote {
		t.Error("Nomad's auto_promote was left on under a gate")
	}
	f.wantServing(map[string]int{"2.0": 2})
	if got := fmt.Sprint(rec.types()); got != "[submitted deployment canaries-healthy analysis promoted succeeded]" {
		t.Errorf("events %s", got)
	}
}

func TestCanaryGateFailsAndNomadReverts(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	rec := &recorder{}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Gate: verdict(Fail), Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 2})
	if cur := f.current(); cur.Meta[jobmeta.Version] != "1.0" || *cur.Version != 2 {
		t.Errorf("current job: version %d app %s, want the revert (2) of 1.0", *cur.Version, cur.Meta[jobmeta.Version])
	}
	if !rec.has(EventFailed, "canaries failed: gate says fail") || !rec.has(EventRolledBack, "version 2 is serving") {
		t.Errorf("events %v", rec.types())
	}
}

func TestCanaryGateInconclusiveWaitsThenPromoteByHand(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Detach: true, Gate: verdict(Inconclusive)})
	if err != nil || res.Outcome != Waiting {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 2, "2.0": 1})

	rec := &recorder{}
	res, err = Promote(f.ctx(), f.api, "web", Options{Sink: rec})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("promote: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"2.0": 2})
	// A release finished by hand is tagged like one deploy finished.
	if tag := f.current().VersionTag; tag == nil || tag.Name != "release-2.0" {
		t.Errorf("tag %+v", tag)
	}
	if !rec.has(EventPromoted, "by hand") {
		t.Errorf("events %v", rec.types())
	}
	// Nothing left to promote.
	if _, err := Promote(f.ctx(), f.api, "web", Options{}); !errors.Is(err, ErrNoActiveDeployment) {
		t.Errorf("promote again: %v", err)
	}
}

func TestCanaryWaitsForAHumanWhileAttached(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	rec := &recorder{}
	promoted := make(chan error, 1)
	rec.on = func(e Event) {
		if e.Type == EventPaused {
			go func() {
				_, _, err := f.api.Deployments().PromoteAll(e.DeploymentID, nil)
				promoted <- err
			}()
		}
	}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{Sink: rec})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if err := <-promoted; err != nil {
		t.Fatal(err)
	}
	f.wantServing(map[string]int{"2.0": 2})
}

func TestBlueGreen(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 3})
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", count: 3, canary: 3}), Options{AutoPromote: true, Gate: verdict(Pass)})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"2.0": 3})
}

func TestCrashLoopingCanaryIsFailedAtOnce(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	f.fake.Behave(nomadfake.ByVersion(map[string]nomadfake.Health{
		"2.0": {Unhealthy: true, Event: "Driver Failure: failed to launch command"},
	}))
	rec := &recorder{}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Gate: verdict(Pass), Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if n := rec.count(EventTaskEvent, "Driver Failure: failed to launch command"); n != 1 {
		t.Errorf("the reason was reported %d times, want once", n)
	}
	if !rec.has(EventFailed, "canaries keep failing: 2 unhealthy") {
		t.Errorf("events %v", rec.types())
	}
	// hstack failed it, not the progress deadline.
	for _, d := range f.fake.Deployments() {
		if d.JobVersion == 1 && d.StatusDescription != "Deployment marked as failed - rolling back to job version 0" {
			t.Errorf("deployment of version 1: %q", d.StatusDescription)
		}
	}
	if !rec.has(EventInspection, "event  Driver Failure: failed to launch command") {
		t.Errorf("inspections %+v", res.Inspections)
	}
	f.wantServing(map[string]int{"1.0": 2})
}

func TestUnhealthyRollingReleaseRevertsAtTheDeadline(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	f.fake.Behave(nomadfake.ByVersion(map[string]nomadfake.Health{"2.0": {Unhealthy: true}}))
	rec := &recorder{}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0"}), Options{Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if !rec.has(EventFailed, "progress deadline") || !rec.has(EventInspection, "Restart Within Policy: exit code 1") {
		t.Errorf("events %v", rec.events)
	}
	f.wantServing(map[string]int{"1.0": 2})
}

func TestFailedFirstReleaseHasNothingToRevertTo(t *testing.T) {
	f := newFixture(t, nil)
	f.fake.Behave(nomadfake.ByVersion(map[string]nomadfake.Health{"1.0": {Unhealthy: true}}))
	rec := &recorder{}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "1.0"}), Options{Sink: rec})
	if err != nil || res.Outcome != Failed {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if !rec.has(EventFailed, "no earlier stable version") {
		t.Errorf("events %v", rec.types())
	}
}

func TestFailureWithoutAutoRevertIsFailed(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1, noRevert: true}), Options{AutoPromote: true, Gate: verdict(Fail)})
	if err != nil || res.Outcome != Failed {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
}

func TestAttachesToAnInFlightDeployment(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	// A killed `hstack deploy` left version 2.0 registered and deploying.
	f.fake.Register(testJob(spec{version: "2.0", canary: 1}))
	rec := &recorder{}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Sink: rec})
	if err != nil || res.Outcome != Succeeded || res.JobVersion != 1 {
		t.Fatalf("%s v%d, %v", res.Outcome, res.JobVersion, err)
	}
	if got := rec.types(); got[0] != EventAttached {
		t.Errorf("events %v, want attached first", got)
	}
	if n := len(f.fake.Jobs("web")); n != 2 {
		t.Errorf("%d job versions: the rerun registered again", n)
	}
}

func TestAbortFollowsTheRevert(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	if res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{Detach: true}); res.Outcome != Waiting {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	rec := &recorder{}
	res, err := Abort(f.ctx(), f.api, "web", Options{Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("abort: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 2})
	if !rec.has(EventFailed, "aborted by hand") {
		t.Errorf("events %v", rec.types())
	}
	if _, err := Abort(f.ctx(), f.api, "web", Options{}); !errors.Is(err, ErrNoActiveDeployment) {
		t.Errorf("abort again: %v", err)
	}
}

func TestRollbackByVersionAndTag(t *testing.T) {
	f := newFixture(t, nil)
	for _, v := range []string{"1.0", "2.0", "3.0"} {
		if res, err := Deploy(f.ctx(), f.api, testJob(spec{version: v, canary: 1}), Options{AutoPromote: true, Tag: jobmeta.ReleaseTag(v)}); res.Outcome != Succeeded {
			t.Fatalf("%s: %s, %v", v, res.Outcome, err)
		}
	}
	// No target: the newest stable version before the current one.
	res, err := Rollback(f.ctx(), f.api, "web", RollbackTo{}, Options{})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("rollback: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"2.0": 2})

	// By tag: the rollback's canaries are promoted, the operator chose.
	rec := &recorder{}
	res, err = Rollback(f.ctx(), f.api, "web", RollbackTo{Tag: "release-1.0"}, Options{Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("rollback to tag: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 2})
	if !rec.has(EventRolledBack, "rolled back to version 0") {
		t.Errorf("events %v", rec.events)
	}

	// By version.
	res, err = Rollback(f.ctx(), f.api, "web", RollbackTo{Version: ptr(uint64(2))}, Options{})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("rollback to version 2: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"3.0": 2})

	for _, to := range []RollbackTo{{Version: ptr(uint64(99))}, {Tag: "release-9"}} {
		if _, err := Rollback(f.ctx(), f.api, "web", to, Options{}); !errors.Is(err, ErrNoSuchVersion) {
			t.Errorf("rollback to %+v: %v", to, err)
		}
	}

	hist, err := History(f.ctx(), f.api, "web")
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 6 || hist[0].Version != 5 || hist[0].AppVersion != "3.0" || hist[5].Tag != "release-1.0" || hist[0].Deployment != "successful" {
		t.Errorf("history %+v", hist)
	}
	st, err := CurrentStatus(f.ctx(), f.api, "web")
	if err != nil || st.AppVersion != "3.0" || st.Status != "successful" || st.Strategy != "canary" {
		t.Errorf("status %+v, %v", st, err)
	}
}

func TestHistoryFallsBackToRecordedOutcomes(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	// As if Nomad had reaped the deployment of version 0 and a very long
	// history had been recorded.
	items := nomadapi.VariableItems{}
	for i := 0; i < maxRecorded+5; i++ {
		items[fmt.Sprint(i+10)] = `{"deployment":"x","status":"failed","description":"old"}`
	}
	items["0"] = `{"deployment":"gone","status":"successful","description":"recorded"}`
	f.fake.PutVariable(&nomadapi.Variable{Path: ReleasesVariable("other"), Items: items})
	out, err := recordedOutcomes(f.ctx(), f.api, "other")
	if err != nil || out[0].Description != "recorded" {
		t.Fatalf("recorded %v, %v", out[0], err)
	}
	trimRecorded(items)
	if len(items) != maxRecorded || items["0"] != "" || items["114"] == "" {
		t.Errorf("trimmed to %d items", len(items))
	}
}

func steppedRelease(f *fixture, version string, steps []Step, opts Options) (Result, error) {
	return DeploySteps(f.ctx(), f.api, testJob(spec{version: version, count: 4}), "web", version, steps, opts)
}

func TestSteppedCanaryHappyPath(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	rec := &recorder{}
	var seen []int
	gate := gateFunc(func(_ context.Context, d *nomadapi.Deployment) (Verdict, string, error) {
		seen = append(seen, d.TaskGroups["web"+CanarySuffix].DesiredTotal)
		// The stable group is never touched while canaries run.
		if got := f.serving()["1.0"]; got != 4 {
			t.Errorf("stable group serves %d of 4 during a step", got)
		}
		return Pass, "ok", nil
	})
	res, err := steppedRelease(f, "2.0", []Step{{Canary: 1, Gate: gate}, {Canary: 2, Gate: gate}}, Options{AutoPromote: true, Sink: rec, Tag: "release-2.0"})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if fmt.Sprint(seen) != "[1 2]" {
		t.Errorf("gate saw canary groups of %v, want [1 2]", seen)
	}
	f.wantServing(map[string]int{"2.0": 4})
	cur := f.current()
	if len(cur.TaskGroups) != 1 || cur.Meta[MetaCanaryRelease] != "" || cur.VersionTag == nil {
		t.Errorf("final job: %d groups, meta %v, tag %v", len(cur.TaskGroups), cur.Meta, cur.VersionTag)
	}
	// No canary step may be a version Nomad would revert to.
	for _, j := range f.fake.Jobs("web") {
		if j.Meta[MetaCanaryRelease] != "" && *j.Stable {
			t.Errorf("canary step version %d is stable", *j.Version)
		}
	}
	if !rec.has(EventCanariesReady, "step 2: 2 canaries healthy") || !rec.has(EventPromoted, "promoting 2.0 to all of web") {
		t.Errorf("events %v", rec.events)
	}
}

func TestSteppedCanaryGateFailsAtAStep(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	res, err := steppedRelease(f, "2.0", []Step{{Canary: 1, Gate: verdict(Pass)}, {Canary: 2, Gate: verdict(Fail)}}, Options{AutoPromote: true})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 4})
	if cur := f.current(); len(cur.TaskGroups) != 1 || cur.Meta[jobmeta.Version] != "1.0" {
		t.Errorf("after the revert: %d groups, version %s", len(cur.TaskGroups), cur.Meta[jobmeta.Version])
	}
}

func TestSteppedCanaryUnhealthyStep(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	f.fake.Behave(func(j *nomadapi.Job, group string) nomadfake.Health {
		return nomadfake.Health{Unhealthy: group == "web"+CanarySuffix}
	})
	rec := &recorder{}
	res, err := steppedRelease(f, "2.0", []Step{{Canary: 1}}, Options{AutoPromote: true, Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if !rec.has(EventFailed, "step 1: canaries did not become healthy") || len(res.Inspections) == 0 {
		t.Errorf("events %v", rec.types())
	}
	f.wantServing(map[string]int{"1.0": 4})
}

func TestSteppedCanaryInconclusiveThenResumed(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	res, err := steppedRelease(f, "2.0", []Step{{Canary: 1, Gate: verdict(Pass)}, {Canary: 2, Gate: verdict(Inconclusive)}, {Canary: 3}}, Options{AutoPromote: true})
	if err != nil || res.Outcome != Waiting {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if step := f.current().Meta[MetaCanaryStep]; step != "1" {
		t.Fatalf("paused at step %q, want 1 (the second)", step)
	}
	// Another release cannot start on top of it.
	if _, err := steppedRelease(f, "3.0", []Step{{Canary: 1}}, Options{AutoPromote: true}); err == nil || !strings.Contains(err.Error(), "another release (2.0)") {
		t.Errorf("3.0 over a paused 2.0: %v", err)
	}
	// A rerun of the same release resumes at the paused step.
	rec := &recorder{}
	res, err = steppedRelease(f, "2.0", []Step{{Canary: 1}, {Canary: 2, Gate: verdict(Pass)}, {Canary: 3}}, Options{AutoPromote: true, Sink: rec})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("resumed: %s, %v", res.Outcome, err)
	}
	if !rec.has(EventAttached, "at step 2 of 3") || rec.has(EventSubmitted, "step 1/3") {
		t.Errorf("events %v", rec.events)
	}
	f.wantServing(map[string]int{"2.0": 4})
}

func TestSteppedCanaryPromotedByHand(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	res, err := steppedRelease(f, "2.0", []Step{{Canary: 1}, {Canary: 2}}, Options{})
	if err != nil || res.Outcome != Waiting {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 4, "2.0": 2})
	res, err = Promote(f.ctx(), f.api, "web", Options{})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("promote: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"2.0": 4})
	cur := f.current()
	if len(cur.TaskGroups) != 1 || *cur.TaskGroups[0].Name != "web" || cur.Meta[MetaCanaryBaseline] != "" {
		t.Errorf("promoted job: groups %d, meta %v", len(cur.TaskGroups), cur.Meta)
	}
	if tags := cur.TaskGroups[0].Services[0].Tags; slices.Contains(tags, jobmeta.Canary) {
		t.Errorf("promoted group still tagged canary: %v", tags)
	}
	if cur.VersionTag == nil || cur.VersionTag.Name != "release-2.0" {
		t.Errorf("tag %+v", cur.VersionTag)
	}
}

func TestSteppedCanaryAborted(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	if res, err := steppedRelease(f, "2.0", []Step{{Canary: 2}}, Options{}); res.Outcome != Waiting {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	res, err := Abort(f.ctx(), f.api, "web", Options{})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("abort: %s, %v", res.Outcome, err)
	}
	f.wantServing(map[string]int{"1.0": 4})
}

func TestSteppedFirstReleaseDeploysDirectly(t *testing.T) {
	f := newFixture(t, nil)
	rec := &recorder{}
	res, err := steppedRelease(f, "1.0", []Step{{Canary: 1}}, Options{AutoPromote: true, Sink: rec})
	if err != nil || res.Outcome != Succeeded || !rec.has(EventSubmitted, "first release") {
		t.Fatalf("%s, %v, %v", res.Outcome, err, rec.types())
	}
}

func TestSteppedPromotionInFlightIsFollowed(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0", count: 4})
	// A killed run left its final promotion registered.
	final, err := promoted(testJob(spec{version: "2.0", count: 4}))
	if err != nil {
		t.Fatal(err)
	}
	f.fake.Register(final)
	rec := &recorder{}
	res, err := steppedRelease(f, "2.0", []Step{{Canary: 1}}, Options{AutoPromote: true, Sink: rec})
	if err != nil || res.Outcome != Succeeded || !rec.has(EventAttached, "promotion of 2.0 is in flight") {
		t.Fatalf("%s, %v, %v", res.Outcome, err, rec.types())
	}
	// Something else in flight is refused.
	f.fake.Behave(func(*nomadapi.Job, string) nomadfake.Health { return nomadfake.Health{Pending: true} })
	f.fake.Register(testJob(spec{version: "9.9", count: 4}))
	if _, err := steppedRelease(f, "3.0", []Step{{Canary: 1}}, Options{}); err == nil || !strings.Contains(err.Error(), "has a deployment in flight") {
		t.Errorf("over a foreign deployment: %v", err)
	}
}

// Every Nomad call the engine depends on, failing, is a ClusterError (exit
// 3 in the CLI), never a release outcome.
func TestNomadErrorsAreClusterErrors(t *testing.T) {
	deploy := func(f *fixture) error {
		_, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Gate: verdict(Pass)})
		return err
	}
	failing := func(f *fixture) error {
		_, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Gate: verdict(Fail)})
		return err
	}
	waiting := func(f *fixture) {
		if res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{Detach: true}); res.Outcome != Waiting {
			t.Fatalf("setup: %s, %v", res.Outcome, err)
		}
	}
	promote := func(f *fixture) error { waiting(f); _, err := Promote(f.ctx(), f.api, "web", Options{}); return err }
	abort := func(f *fixture) error { waiting(f); _, err := Abort(f.ctx(), f.api, "web", Options{}); return err }
	rollback := func(f *fixture) error { _, err := Rollback(f.ctx(), f.api, "web", RollbackTo{}, Options{}); return err }
	released := func(f *fixture) {
		if res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0"}), Options{}); res.Outcome != Succeeded {
			t.Fatalf("setup: %s, %v", res.Outcome, err)
		}
	}
	stepped := func(f *fixture) error {
		_, err := DeploySteps(f.ctx(), f.api, testJob(spec{version: "2.0"}), "web", "2.0", []Step{{Canary: 1}}, Options{AutoPromote: true})
		return err
	}
	steppedFail := func(f *fixture) error {
		_, err := DeploySteps(f.ctx(), f.api, testJob(spec{version: "2.0"}), "web", "2.0", []Step{{Canary: 1, Gate: verdict(Fail)}}, Options{AutoPromote: true})
		return err
	}
	for _, c := range []struct {
		name, method, path string
		op                 func(*fixture) error
	}{
		{"plan", "PUT", `/plan$`, deploy},
		{"register", "PUT", `^/v1/jobs$`, deploy},
		{"read job after register", "GET", `^/v1/job/web$`, deploy},
		{"wait for deployment", "GET", `/job/web/deployments$`, deploy},
		{"watch deployment", "GET", `^/v1/deployment/[^/]+$`, deploy},
		{"promote", "PUT", `/deployment/promote/`, deploy},
		{"old allocations", "GET", `/job/web/allocations$`, deploy},
		{"fail", "PUT", `/deployment/fail/`, failing},
		{"versions for revert", "GET", `/job/web/versions$`, failing},
		{"promote by hand", "PUT", `/deployment/promote/`, promote},
		{"promote: read job", "GET", `^/v1/job/web$`, func(f *fixture) error { _, err := Promote(f.ctx(), f.api, "web", Options{}); return err }},
		{"promote: latest deployment", "GET", `/job/web/deployment$`, func(f *fixture) error { _, err := Promote(f.ctx(), f.api, "web", Options{}); return err }},
		{"abort", "PUT", `/deployment/fail/`, abort},
		{"rollback: versions", "GET", `/job/web/versions$`, rollback},
		{"rollback: revert", "PUT", `/job/web/revert$`, rollback},
		{"stepped: read job", "GET", `^/v1/job/web$`, stepped},
		{"stepped: latest deployment", "GET", `/job/web/deployment$`, stepped},
		{"stepped: versions", "GET", `/job/web/versions$`, stepped},
		{"stepped: mark step unstable", "PUT", `/job/web/stable$`, stepped},
		{"stepped: revert", "PUT", `/job/web/revert$`, steppedFail},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, &spec{version: "1.0"})
			// Break the call only once the setup (waiting) is done: ops
			// that need a paused release break after it.
			var err error
			switch c.name {
			case "rollback: versions", "rollback: revert":
				released(f)
				f.fake.Break(c.method, c.path, 0)
				err = c.op(f)
			case "promote by hand", "abort":
				waiting(f)
				f.fake.Break(c.method, c.path, 0)
				if c.name == "abort" {
					_, err = Abort(f.ctx(), f.api, "web", Options{})
				} else {
					_, err = Promote(f.ctx(), f.api, "web", Options{})
				}
			default:
				f.fake.Break(c.method, c.path, 0)
				err = c.op(f)
			}
			var ce *ClusterError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v (%T), want a ClusterError", err, err)
			}
			if !strings.Contains(err.Error(), "injected failure") {
				t.Errorf("error hides Nomad's answer: %v", err)
			}
		})
	}
	_ = promote
	_ = abort
}

// Best-effort calls do not change the outcome.
func TestBestEffortCallsWarn(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	f.fake.Break("PUT", `/versions/.*/tag$`, 0)
	f.fake.Break("PUT", `^/v1/var/`, 0)
	rec := &recorder{}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0"}), Options{Tag: "release-2.0", Sink: rec})
	if err != nil || res.Outcome != Succeeded {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if !rec.has(EventProgress, "not tagged release-2.0") || !rec.has(EventWarning, "could not record deployment outcomes") {
		t.Errorf("events %v", rec.events)
	}
}

// Decisions, directly.

func state(desiredCanaries, placedCanaries, healthy, unhealthy int, promoted bool) *nomadapi.DeploymentState {
	s := &nomadapi.DeploymentState{DesiredCanaries: desiredCanaries, HealthyAllocs: healthy, UnhealthyAllocs: unhealthy, Promoted: promoted, DesiredTotal: 3}
	for i := 0; i < placedCanaries; i++ {
		s.PlacedCanaries = append(s.PlacedCanaries, fmt.Sprint(i))
	}
	return s
}

func dep(status string, groups ...*nomadapi.DeploymentState) *nomadapi.Deployment {
	d := &nomadapi.Deployment{Status: status, TaskGroups: map[string]*nomadapi.DeploymentState{}}
	for i, g := range groups {
		d.TaskGroups[fmt.Sprint("g", i)] = g
	}
	return d
}

func TestCrashLooping(t *testing.T) {
	run := nomadapi.DeploymentStatusRunning
	for _, c := range []struct {
		d    *nomadapi.Deployment
		want bool
	}{
		{dep(run, state(1, 1, 0, 1, false)), false}, // one failure: Nomad replaces it
		{dep(run, state(1, 2, 0, 2, false)), true},  // the replacement failed too
		{dep(run, state(2, 2, 1, 2, false)), false},
		{dep(run, state(2, 3, 0, 3, false)), true},
		{dep(run, state(1, 2, 0, 5, true)), false},  // promoted: not a canary problem any more
		{dep(run, state(0, 0, 0, 9, false)), false}, // rolling: the progress deadline decides
		{dep(run, state(0, 0, 0, 0, false), state(1, 2, 0, 2, false)), true},
	} {
		if got := crashLooping(c.d); got != c.want {
			t.Errorf("crashLooping(%+v) = %v", c.d.TaskGroups, got)
		}
	}
}

func TestCanariesHealthy(t *testing.T) {
	run := nomadapi.DeploymentStatusRunning
	for _, c := range []struct {
		d    *nomadapi.Deployment
		want bool
	}{
		{dep(run, state(2, 2, 2, 0, false)), true},
		{dep(run, state(2, 1, 1, 0, false)), false}, // not all placed
		{dep(run, state(2, 2, 1, 0, false)), false}, // not all healthy
		{dep(run, state(0, 0, 0, 0, false), state(1, 1, 1, 0, false)), true},
		{dep(nomadapi.DeploymentStatusFailed, state(2, 0, 0, 0, false)), true}, // ended: stop waiting
	} {
		if got := canariesHealthy(c.d); got != c.want {
			t.Errorf("canariesHealthy(%s %+v) = %v", c.d.Status, c.d.TaskGroups, got)
		}
	}
}

func TestRollbackTarget(t *testing.T) {
	v := func(n uint64, stable bool, tag string) *nomadapi.Job {
		j := &nomadapi.Job{Version: ptr(n), Stable: ptr(stable)}
		if tag != "" {
			j.VersionTag = &nomadapi.JobVersionTag{Name: tag}
		}
		return j
	}
	versions := []*nomadapi.Job{v(5, true, "release-3"), v(4, false, ""), v(3, true, "release-2"), v(2, true, "release-1")}
	for _, c := range []struct {
		to      RollbackTo
		want    uint64
		wantErr string
	}{
		{RollbackTo{}, 3, ""},
		{RollbackTo{Version: ptr(uint64(4))}, 4, ""}, // an unstable version, asked for by number
		{RollbackTo{Version: ptr(uint64(5))}, 0, "is the current version"},
		{RollbackTo{Version: ptr(uint64(1))}, 0, "no version 1"},
		{RollbackTo{Tag: "release-1"}, 2, ""},
		{RollbackTo{Tag: "release-3"}, 0, "on the current version"},
		{RollbackTo{Tag: "nope"}, 0, "no version tagged nope"},
		{RollbackTo{Tag: "release-1", Version: ptr(uint64(2))}, 0, "give one"},
	} {
		got, err := RollbackTarget(versions, c.to)
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("%+v: %v, want error %q", c.to, err, c.wantErr)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: %d, %v; want %d", c.to, got, err, c.want)
		}
	}
	if _, err := RollbackTarget([]*nomadapi.Job{v(1, true, ""), v(0, false, "")}, RollbackTo{}); !errors.Is(err, ErrNoSuchVersion) {
		t.Errorf("no stable: %v", err)
	}
}

func TestWithCanaryGroup(t *testing.T) {
	stable, next := testJob(spec{version: "1.0", count: 4}), testJob(spec{version: "2.0", count: 4, autoPromote: true})
	stable.Version = ptr(uint64(7))
	out, err := withCanaryGroup(stable, next, "web", 2)
	if err != nil {
		t.Fatal(err)
	}
	if out.Version != nil || len(out.TaskGroups) != 2 {
		t.Fatalf("version %v, %d groups", out.Version, len(out.TaskGroups))
	}
	sg, cg := out.TaskGroups[0], out.TaskGroups[1]
	if sg.Tasks[0].Env["VERSION"] != "1.0" || *sg.Count != 4 {
		t.Errorf("stable group changed: %+v", sg)
	}
	if *cg.Name != "web-canary" || *cg.Count != 2 || cg.Tasks[0].Env["VERSION"] != "2.0" {
		t.Errorf("canary group %s x%d runs %s", *cg.Name, *cg.Count, cg.Tasks[0].Env["VERSION"])
	}
	u := cg.Update
	if *u.Canary != 0 || *u.AutoRevert || *u.AutoPromote || *u.MaxParallel != 2 {
		t.Errorf("canary update %+v", u)
	}
	svc := cg.Services[0]
	if !slices.Contains(svc.Tags, jobmeta.Canary) || svc.Meta[jobmeta.Canary] != "true" {
		t.Errorf("canary service tags %v meta %v", svc.Tags, svc.Meta)
	}
	if slices.Contains(next.TaskGroups[0].Services[0].Tags, jobmeta.Canary) {
		t.Error("withCanaryGroup changed its input")
	}
	if _, err := withCanaryGroup(stable, next, "nope", 1); err == nil {
		t.Error("missing group accepted")
	}
}

func TestPromoted(t *testing.T) {
	next := testJob(spec{version: "2.0", canary: 1, autoPromote: true})
	next.TaskGroups[0].Update = nil
	next.Update = &nomadapi.UpdateStrategy{Canary: ptr(1), AutoRevert: ptr(true), AutoPromote: ptr(true), MaxParallel: ptr(2)}
	out, err := promoted(next)
	if err != nil {
		t.Fatal(err)
	}
	u := out.TaskGroups[0].Update
	if *u.Canary != 0 || *u.AutoRevert || *u.AutoPromote || *u.MaxParallel != 2 {
		t.Errorf("update %+v", u)
	}
	if next.TaskGroups[0].Update != nil {
		t.Error("promoted changed its input")
	}
}

func TestTrimRecorded(t *testing.T) {
	items := nomadapi.VariableItems{"junk": "x"}
	for i := 0; i < maxRecorded+3; i++ {
		items[fmt.Sprint(i)] = "o"
	}
	trimRecorded(items)
	if len(items) != maxRecorded {
		t.Fatalf("%d items", len(items))
	}
	for _, k := range []string{"junk", "0", "1", "2"} {
		if _, ok := items[k]; ok {
			t.Errorf("kept %s", k)
		}
	}
	if _, ok := items[fmt.Sprint(maxRecorded+2)]; !ok {
		t.Error("dropped the newest")
	}
	small := nomadapi.VariableItems{"1": "a", "x": "b"}
	trimRecorded(small)
	if len(small) != 2 {
		t.Error("trimmed a variable under the limit")
	}
}

// A stuck allocation says why at once, not at the deadline: here the
// operator aborts as soon as the reason shows.
func TestStuckAllocationReasonShownAtOnce(t *testing.T) {
	f := newFixture(t, &spec{version: "1.0"})
	const why = "Template: Missing: kv.block(hstack/config/web/2)"
	f.fake.Behave(nomadfake.ByVersion(map[string]nomadfake.Health{"2.0": {Pending: true, Event: why}}))
	rec := &recorder{}
	aborted := make(chan error, 1)
	rec.on = func(e Event) {
		if e.Type == EventTaskEvent && strings.Contains(e.Message, why) {
			go func() { _, _, err := f.api.Deployments().Fail(e.DeploymentID, nil); aborted <- err }()
		}
	}
	res, err := Deploy(f.ctx(), f.api, testJob(spec{version: "2.0", canary: 1}), Options{AutoPromote: true, Sink: rec})
	if err != nil || res.Outcome != RolledBack {
		t.Fatalf("%s, %v", res.Outcome, err)
	}
	if err := <-aborted; err != nil {
		t.Fatal(err)
	}
	if n := rec.count(EventTaskEvent, why); n != 1 {
		t.Errorf("reason shown %d times", n)
	}
}

func TestTroubleReason(t *testing.T) {
	healthy, unhealthy := true, false
	ev := func(typ, msg string, at int64) *nomadapi.TaskEvent {
		return &nomadapi.TaskEvent{Type: typ, DisplayMessage: msg, Time: at}
	}
	stub := func(client string, health *bool, events ...*nomadapi.TaskEvent) *nomadapi.AllocationListStub {
		return &nomadapi.AllocationListStub{DesiredStatus: "run", ClientStatus: client,
			DeploymentStatus: &nomadapi.AllocDeploymentStatus{Healthy: health},
			TaskStates:       map[string]*nomadapi.TaskState{"web": {Events: events}}}
	}
	for _, c := range []struct {
		name string
		a    *nomadapi.AllocationListStub
		want string
	}{
		{"running fine", stub("running", &healthy, ev("Received", "", 1), ev("Started", "Task started by client", 2)), ""},
		{"vault", stub("pending", nil, ev("Received", "", 1), ev("Killing", "Vault: failed to derive vault token: x", 2)), "Killing: Vault: failed to derive vault token: x"},
		{"template", stub("pending", nil, ev("Template", "Missing: kv.block(a)", 2)), "Template: Missing: kv.block(a)"},
		{"template re-rendered", stub("running", &healthy, ev("Template", "Template re-rendered", 2)), ""},
		{"restart", stub("running", nil, ev("Terminated", "Exit Code: 1", 1), ev("Restarting", "Restart Within Policy: exit code 1", 2)), "Restarting: Restart Within Policy: exit code 1"},
		{"unhealthy, any event", stub("running", &unhealthy, ev("Started", "Task started by client", 2)), "Started: Task started by client"},
		{"clean exit", stub("complete", nil, ev("Terminated", "Exit Code: 0", 2)), ""},
		{"no events", stub("pending", nil), ""},
	} {
		if got := troubleReason(c.a); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	stopped := stub("complete", nil, ev("Killing", "Sent interrupt", 1))
	stopped.DesiredStatus = "stop"
	if got := troubleReason(stopped); got != "" {
		t.Errorf("a stopped allocation: %q", got)
	}
	failed := stub("failed", &unhealthy, ev("Driver Failure", "x", 1))
	failed.DesiredStatus = "stop"
	if got := troubleReason(failed); got != "Driver Failure: x" {
		t.Errorf("a failed allocation being stopped: %q", got)
	}
	// The newest event across tasks wins.
	two := stub("failed", &unhealthy, ev("Driver Failure", "old", 1))
	two.TaskStates["sidecar"] = &nomadapi.TaskState{Events: []*nomadapi.TaskEvent{ev("Setup Failure", "new", 5)}}
	if got := troubleReason(two); got != "Setup Failure: new" {
		t.Errorf("two tasks: %q", got)
	}
}
