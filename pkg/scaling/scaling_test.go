package scaling

import (
	"errors"
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"
)

func ptr[T any](v T) *T { return &v }

func job(groups ...*nomadapi.TaskGroup) *nomadapi.Job {
	return &nomadapi.Job{ID: ptr("pingapp"), TaskGroups: groups}
}

func group(name string, count int, min, max int64) *nomadapi.TaskGroup {
	return &nomadapi.TaskGroup{Name: ptr(name), Count: ptr(count),
		Scaling: &nomadapi.ScalingPolicy{Min: ptr(min), Max: ptr(max), Enabled: ptr(true), Policy: map[string]any{"check": 1}}}
}

func TestPlanWithinBounds(t *testing.T) {
	c, err := Plan(job(group("pingapp", 3, 3, 10)), "", 5)
	if err != nil {
		t.Fatal(err)
	}
	if c.Job != "pingapp" || c.Group != "pingapp" || c.From != 3 || c.To != 5 {
		t.Errorf("change %+v", c)
	}
	for _, n := range []int{3, 10} {
		if _, err := Plan(job(group("pingapp", 3, 3, 10)), "", n); err != nil {
			t.Errorf("count %d at a bound: %v", n, err)
		}
	}
}

func TestPlanRefusesOutsideBounds(t *testing.T) {
	for _, n := range []int{2, 11} {
		_, err := Plan(job(group("pingapp", 3, 3, 10)), "", n)
		var be *BoundsError
		if !errors.As(err, &be) || !strings.Contains(err.Error(), "outside its scaling policy's bounds [3, 10]") {
			t.Errorf("count %d: %v", n, err)
		}
	}
	if _, err := Plan(job(group("pingapp", 3, 3, 10)), "", -1); err == nil {
		t.Error("negative count accepted")
	}
}

func TestPlanWithoutPolicyAcceptsAnyCount(t *testing.T) {
	j := job(&nomadapi.TaskGroup{Name: ptr("pingapp"), Count: ptr(1)})
	if c, err := Plan(j, "", 40); err != nil || c.Min != nil {
		t.Errorf("%+v %v", c, err)
	}
}

func TestPlanPicksTheGroup(t *testing.T) {
	two := job(group("web", 1, 1, 5), group("worker", 2, 0, 4))
	if _, err := Plan(two, "", 2); err == nil || !strings.Contains(err.Error(), "say which with --group") {
		t.Errorf("ambiguous: %v", err)
	}
	if c, err := Plan(two, "worker", 4); err != nil || c.Group != "worker" || c.From != 2 {
		t.Errorf("worker: %+v %v", c, err)
	}
	if _, err := Plan(two, "nope", 1); err == nil || !strings.Contains(err.Error(), `no group "nope" (groups: web, worker)`) {
		t.Errorf("unknown group: %v", err)
	}
	named := job(group("other", 1, 1, 5), group("pingapp", 2, 1, 4))
	if c, err := Plan(named, "", 3); err != nil || c.Group != "pingapp" {
		t.Errorf("group named like the job: %+v %v", c, err)
	}
}

func TestSummarizeNewestEventsFirst(t *testing.T) {
	ss := &nomadapi.JobScaleStatusResponse{TaskGroups: map[string]nomadapi.TaskGroupScaleStatus{
		"pingapp": {Desired: 5, Running: 4, Healthy: 4, Events: []nomadapi.ScalingEvent{
			{Time: 1e18, PreviousCount: 3, Count: ptr(int64(4)), Message: "first"},
			{Time: 3e18, PreviousCount: 5, Count: ptr(int64(5)), Message: "third"},
			{Time: 2e18, PreviousCount: 4, Count: ptr(int64(5)), Message: "second"},
		}},
	}}
	gs := Summarize(job(group("pingapp", 3, 3, 10)), ss, 2)
	if len(gs) != 1 || gs[0].Desired != 5 || gs[0].Running != 4 || !gs[0].Autoscaled {
		t.Fatalf("%+v", gs)
	}
	if len(gs[0].Events) != 2 || gs[0].Events[0].Message != "third" || gs[0].Events[1].Message != "second" {
		t.Errorf("events %+v", gs[0].Events)
	}
}
