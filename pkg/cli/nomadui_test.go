package cli

import (
	"strings"
	"testing"

	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
)

func TestNomadUIAddress(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string // the job page of pingapp, or an error substring
	}{
		{"Nomad's default", nil, nil, "http://127.0.0.1:4646/ui/jobs/pingapp@default"},
		{"NOMAD_ADDR and NOMAD_NAMESPACE", map[string]string{"NOMAD_ADDR": "https://nomad.example.com:4646", "NOMAD_NAMESPACE": "shop"}, nil,
			"https://nomad.example.com:4646/ui/jobs/pingapp@shop"},
		{"--nomad-ui-addr wins", map[string]string{"NOMAD_ADDR": "https://10.0.1.5:4646"}, []string{"--nomad-ui-addr", "https://nomad.example.com/ui"},
			"https://nomad.example.com/ui/jobs/pingapp@default"},
		{"HSTACK_NOMAD_UI_ADDR", map[string]string{"HSTACK_NOMAD_UI_ADDR": "https://ops.example.com/nomad"}, nil,
			"https://ops.example.com/nomad/ui/jobs/pingapp@default"},
		{"bad --nomad-ui-addr", nil, []string{"--nomad-ui-addr", "nomad.example.com"}, "invalid --nomad-ui-addr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateEnv(t)
			t.Setenv("HSTACK_NOMAD_UI_ADDR", "")
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			var got string
			cmd := probe("probe", func(c *cli.Context) error {
				ui, err := nomadUI(c, "")
				if err != nil {
					return err
				}
				got = ui.Job("pingapp")
				return nil
			})
			r := runApp(t, []*cli.Command{cmd}, append(tc.args, "probe")...)
			if strings.HasPrefix(tc.want, "invalid") {
				if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
					t.Errorf("exit %d, stderr %q; want exit %d naming the flag", r.code, r.stderr, ExitUsage)
				}
				return
			}
			if r.code != 0 || got != tc.want {
				t.Errorf("exit %d (%s), link %q; want %q", r.code, r.stderr, got, tc.want)
			}
		})
	}
}

func TestReleaseLinks(t *testing.T) {
	ui, _ := nomadui.New("http://127.0.0.1:4646", "default")
	job := "http://127.0.0.1:4646/ui/jobs/pingapp@default"
	for _, tc := range []struct {
		e    rollout.Event
		want string
	}{
		{rollout.Event{Type: rollout.EventDeploymentSeen, Job: "pingapp", DeploymentID: "d1"}, job + "/deployments"},
		{rollout.Event{Type: rollout.EventAttached, Job: "pingapp", DeploymentID: "d1"}, job + "/deployments"},
		{rollout.Event{Type: rollout.EventPaused, Job: "pingapp", DeploymentID: "d1"}, job},
		{rollout.Event{Type: rollout.EventRolledBack, Job: "pingapp", DeploymentID: "d1"}, job + "/deployments"},
		{rollout.Event{Type: rollout.EventSucceeded, Job: "pingapp", DeploymentID: "d1"}, job + "/versions"},
		{rollout.Event{Type: rollout.EventProgress, Job: "pingapp", DeploymentID: "d1"}, ""},
		{rollout.Event{Type: rollout.EventSubmitted, Job: "pingapp"}, ""},
	} {
		if got := eventLink(ui, tc.e); got != tc.want {
			t.Errorf("event %s: link %q, want %q", tc.e.Type, got, tc.want)
		}
	}
	for _, tc := range []struct {
		o    rollout.Outcome
		want string
	}{
		{rollout.Waiting, job}, {rollout.NoChange, job}, {rollout.Succeeded, job + "/versions"},
		{rollout.RolledBack, job + "/deployments"}, {rollout.Failed, job + "/deployments"},
	} {
		if got := resultLink(ui, rollout.Result{Job: "pingapp", Outcome: tc.o}); got != tc.want {
			t.Errorf("result %s: link %q, want %q", tc.o, got, tc.want)
		}
	}
}

// TestLiveViewPrintsLinks: plain and --json output carry the link of the
// events that have one.
func TestLiveViewPrintsLinks(t *testing.T) {
	ui, _ := nomadui.New("http://127.0.0.1:4646", "")
	var b strings.Builder
	v := newEventView(&Output{Stdout: &b})
	v.ui = ui
	v.Emit(rollout.Event{Type: rollout.EventPaused, Job: "pingapp", DeploymentID: "d1", Message: "waiting"})
	if !strings.Contains(b.String(), "  Nomad UI: http://127.0.0.1:4646/ui/jobs/pingapp@default\n") {
		t.Errorf("plain output lacks the job page link:\n%s", b.String())
	}
	b.Reset()
	v = newEventView(&Output{Stdout: &b, JSON: true})
	v.ui = ui
	v.Emit(rollout.Event{Type: rollout.EventDeploymentSeen, Job: "pingapp", DeploymentID: "d1"})
	if !strings.Contains(b.String(), `"ui":"http://127.0.0.1:4646/ui/jobs/pingapp@default/deployments"`) {
		t.Errorf("--json event lacks the ui field:\n%s", b.String())
	}
}

func TestMarkReleasedBy(t *testing.T) {
	app := &render.Job{Name: "pingapp", Kind: render.KindApp, Job: &nomadapi.Job{}}
	markReleasedBy(app, &nomadapi.JobPlanResponse{Diff: &nomadapi.JobDiff{Type: "None"}}, "alice")
	if _, ok := app.Job.Meta[metaReleasedBy]; ok {
		t.Error("an unchanged job got a new releaser: Nomad would make a new version of nothing")
	}
	markReleasedBy(app, &nomadapi.JobPlanResponse{Diff: &nomadapi.JobDiff{Type: "Edited"}}, "alice")
	if got := app.Job.Meta[metaReleasedBy]; got != "alice" {
		t.Errorf("released by %q, want alice", got)
	}
	infra := &render.Job{Name: "prometheus", Kind: render.KindMonitoring, Job: &nomadapi.Job{}}
	markReleasedBy(infra, &nomadapi.JobPlanResponse{Diff: &nomadapi.JobDiff{Type: "Added"}}, "alice")
	if infra.Job.Meta != nil {
		t.Error("infrastructure jobs are not releases of an app")
	}
}
