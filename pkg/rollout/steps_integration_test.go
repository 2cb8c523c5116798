package rollout_test

import (
	"context"
	"fmt"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

func TestSteppedCanary(t *testing.T) {
	r := newReleaser(t)
	if res, _ := r.deploy(r.job(jobOpts{version: "1", count: 3}), rollout.Options{}); res.Outcome != rollout.Succeeded {
		t.Fatalf("baseline release: %s", res.Outcome)
	}

	// A gate that records what served at its step, then says v.
	type seen struct{ stable, canary int }
	recorder := func(stable, canary string, into *[]seen, v rollout.Verdict) rollout.Gate {
		return gateFunc(func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error) {
			got := r.versionsServing()
			*into = append(*into, seen{got[stable], got[canary]})
			return v, fmt.Sprintf("saw %v", got), nil
		})
	}
	deploySteps := func(version string, steps []rollout.Step) (rollout.Result, []rollout.Event) {
		t.Helper()
		var events []rollout.Event
		sink := rollout.SinkFunc(func(e rollout.Event) {
			events = append(events, e)
			t.Logf("%s %s v%d %s %s", e.Type, e.Status, e.JobVersion, groupsLine(e.Groups), firstLine(e.Message))
		})
		res, err := rollout.DeploySteps(context.Background(), r.nomad, r.job(jobOpts{version: version, count: 3}),
			"pingapp", "v"+version, steps, rollout.Options{Sink: sink, AutoPromote: true})
		if err != nil {
			t.Fatalf("deploy steps: %v", err)
		}
		return res, events
	}
	groups := func() []string {
		j, _, err := r.nomad.Jobs().Info("pingapp", nil)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, tg := range j.TaskGroups {
			names = append(names, *tg.Name)
		}
		return names
	}

	t.Run("two steps reach both canary counts, then promote", func(t *testing.T) {
		var at []seen
		res, _ := deploySteps("2", []rollout.Step{
			{Canary: 1, Gate: recorder("1", "2", &at, rollout.Pass)},
			{Canary: 2, Gate: recorder("1", "2", &at, rollout.Pass)},
		})
		if res.Outcome != rollout.Succeeded {
			t.Fatalf("outcome %s", res.Outcome)
		}
		want := []seen{{3, 1}, {3, 2}}
		if fmt.Sprint(at) != fmt.Sprint(want) {
			t.Errorf("served (stable, canary) at each step %v, want %v: the stable group must stay whole", at, want)
		}
		if got := r.versionsServing(); got["2"] != 3 || len(got) != 1 {
			t.Errorf("after promotion serving %v, want 3 of version 2", got)
		}
		if g := groups(); len(g) != 1 {
			t.Errorf("task groups after promotion %v, want the canary group gone", g)
		}
	})

	t.Run("failing second step reverts to the baseline", func(t *testing.T) {
		var at []seen
		res, _ := deploySteps("3", []rollout.Step{
			{Canary: 1, Gate: recorder("2", "3", &at, rollout.Pass)},
			{Canary: 2, Gate: recorder("2", "3", &at, rollout.Fail)},
		})
		if res.Outcome != rollout.RolledBack {
			t.Fatalf("outcome %s, want rolled-back", res.Outcome)
		}
		if got := r.versionsServing(); got["2"] != 3 || len(got) != 1 {
			t.Errorf("after rollback serving %v, want 3 of version 2", got)
		}
		if g := groups(); len(g) != 1 {
			t.Errorf("task groups after rollback %v", g)
		}
	})

	t.Run("inconclusive pauses; a second run resumes; promote by hand finishes", func(t *testing.T) {
		var at []seen
		res, _ := deploySteps("4", []rollout.Step{
			{Canary: 1, Gate: recorder("2", "4", &at, rollout.Inconclusive)},
			{Canary: 2},
		})
		if res.Outcome != rollout.Waiting {
			t.Fatalf("outcome %s, want waiting", res.Outcome)
		}
		// The rerun recognises its own canary and carries on from step 1.
		res, events := deploySteps("4", []rollout.Step{
			{Canary: 1, Gate: recorder("2", "4", &at, rollout.Inconclusive)},
			{Canary: 2},
		})
		if res.Outcome != rollout.Waiting || !hasEvent(events, rollout.EventAttached) {
			t.Fatalf("rerun: %s, attached %v", res.Outcome, hasEvent(events, rollout.EventAttached))
		}
		// Another release cannot start over a paused canary.
		if _, err := rollout.DeploySteps(context.Background(), r.nomad, r.job(jobOpts{version: "5", count: 3}),
			"pingapp", "v5", []rollout.Step{{Canary: 1}}, rollout.Options{}); err == nil {
			t.Error("a second release started over a paused canary")
		}
		pres, err := rollout.Promote(context.Background(), r.nomad, "pingapp", rollout.Options{})
		if err != nil || pres.Outcome != rollout.Succeeded {
			t.Fatalf("promote: %s %v", pres.Outcome, err)
		}
		if got := r.versionsServing(); got["4"] != 3 || len(got) != 1 {
			t.Errorf("after promote serving %v, want 3 of version 4", got)
		}
		if g := groups(); len(g) != 1 {
			t.Errorf("task groups after promotion %v", g)
		}
	})
}
