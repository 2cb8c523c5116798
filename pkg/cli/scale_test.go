package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/scaling"
)

func TestScaleUsageErrors(t *testing.T) {
	isolateStackEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"scale", "pingapp"}, "missing argument COUNT"},
		{[]string{"scale", "pingapp", "many"}, `invalid COUNT "many"`},
	} {
		r := runApp(t, nil, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	r := runApp(t, nil, "--nomad-addr", "http://127.0.0.1:1", "scale", "pingapp", "2")
	if r.code != ExitUnreachable {
		t.Errorf("unreachable Nomad: exit %d, want 3\n%s", r.code, r.stderr)
	}
}

func TestScalingLines(t *testing.T) {
	p := func(n int64) *int64 { return &n }
	got := scalingLines([]scaling.GroupStatus{
		{Group: "pingapp", Desired: 5, Running: 5, Healthy: 4, Min: p(3), Max: p(10), Autoscaled: true, Events: []scaling.Event{
			{Time: time.Date(2026, 12, 1, 22, 0, 0, 0, time.Local), From: 3, To: p(5), Message: "hstack scale: load test"},
		}},
		{Group: "fixed", Desired: 1},
	})
	want := []string{
		"scaling pingapp: count 5 (5 running, 4 healthy), bounds [3, 10], autoscaled",
		"  2026-12-01 22:00:00  3 -> 5  hstack scale: load test",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestScaleAgainstNomad scales a real job through the CLI: refused outside
// the policy's bounds (exit 2, nothing changed), accepted inside them and
// recorded with its reason in Nomad's scaling events, which `hstack status`
// shows.
func TestScaleAgainstNomad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	isolateStackEnv(t)
	t.Setenv("NOMAD_ADDR", s.NomadAddr())
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	job := nomadapi.NewServiceJob("sleeper", "sleeper", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := nomadapi.NewTask("sleep", "raw_exec").SetConfig("command", "/bin/sleep").SetConfig("args", []string{"600"})
	task.Resources = &nomadapi.Resources{CPU: ptrTo(20), MemoryMB: ptrTo(16)}
	tg := nomadapi.NewTaskGroup("sleeper", 1).AddTask(task)
	tg.Scaling = &nomadapi.ScalingPolicy{Min: ptrTo(int64(1)), Max: ptrTo(int64(3)), Enabled: ptrTo(true)}
	job.AddTaskGroup(tg)
	if _, _, err := nomad.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	// Nomad refuses to scale a group while a deployment runs: wait for the
	// first one to end, as an operator would.
	waitDeploymentDone(t, nomad, "sleeper")

	r := runApp(t, nil, "scale", "sleeper", "4")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "count 4 is outside its scaling policy's bounds [1, 3]") {
		t.Errorf("scale beyond max: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runApp(t, nil, "scale", "--group", "nope", "sleeper", "2")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `no group "nope"`) {
		t.Errorf("unknown group: exit %d\n%s", r.code, r.stderr)
	}
	r = runApp(t, nil, "scale", "nosuch", "2")
	if r.code != ExitUsage || !strings.Contains(r.stderr, `no job "nosuch"`) {
		t.Errorf("unknown job: exit %d\n%s", r.code, r.stderr)
	}
	if j, _, _ := nomad.Jobs().Info("sleeper", nil); *j.TaskGroups[0].Count != 1 {
		t.Errorf("a refused scale changed the count to %d", *j.TaskGroups[0].Count)
	}

	r = runApp(t, nil, "scale", "--reason", "load test", "--json", "sleeper", "3")
	if r.code != ExitOK {
		t.Fatalf("scale: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		From, To int
		EvalID   string `json:"eval_id"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil || res.From != 1 || res.To != 3 || res.EvalID == "" {
		t.Errorf("scale --json: %s (%v)", r.stdout, err)
	}
	devstacktest.Eventually(t, 2*time.Minute, "3 sleepers running", func() error {
		gs, err := scaling.Status(t.Context(), nomad, "sleeper", 3)
		if err != nil {
			return err
		}
		if gs[0].Running != 3 {
			return fmt.Errorf("%d running", gs[0].Running)
		}
		if len(gs[0].Events) == 0 || gs[0].Events[0].Message != "load test" || gs[0].Events[0].Meta["by"] != "hstack" {
			return fmt.Errorf("events %+v", gs[0].Events)
		}
		return nil
	})
	r = runApp(t, nil, "status", "sleeper")
	if r.code != ExitOK || !strings.Contains(r.stdout, "scaling sleeper: count 3 (3 running") ||
		!strings.Contains(r.stdout, "bounds [1, 3]") || !strings.Contains(r.stdout, "1 -> 3  load test") {
		t.Errorf("status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func waitDeploymentDone(t *testing.T, nomad *nomadapi.Client, job string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var index uint64
	for time.Now().Before(deadline) {
		d, meta, err := nomad.Jobs().LatestDeployment(job, &nomadapi.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		index = meta.LastIndex
		if d != nil && d.Status != nomadapi.DeploymentStatusRunning && d.Status != nomadapi.DeploymentStatusPending {
			if d.Status != nomadapi.DeploymentStatusSuccessful {
				t.Fatalf("%s: first deployment %s: %s", job, d.Status, d.StatusDescription)
			}
			return
		}
	}
	t.Fatalf("%s: first deployment still running after 3 minutes", job)
}
