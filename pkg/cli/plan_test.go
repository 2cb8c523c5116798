package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/render"
)

func TestPlanSummary(t *testing.T) {
	name := "web"
	j := &render.Job{Name: "web", Kind: render.KindApp, Job: &nomadapi.Job{ID: &name, TaskGroups: []*nomadapi.TaskGroup{{Name: &name}}}}
	resp := &nomadapi.JobPlanResponse{
		Diff: &nomadapi.JobDiff{
			Type: "Edited", ID: "web",
			Fields: []*nomadapi.FieldDiff{{Type: "Edited", Name: "Meta[version]", Old: "1.0.0", New: "1.1.0"}},
			TaskGroups: []*nomadapi.TaskGroupDiff{{
				Type: "Edited", Name: "web",
				Tasks: []*nomadapi.TaskDiff{{
					Type: "Edited", Name: "web",
					Objects: []*nomadapi.ObjectDiff{{Type: "Edited", Name: "Config", Fields: []*nomadapi.FieldDiff{
						{Type: "Edited", Name: "image", Old: "web:1.0.0", New: "web:1.1.0"},
						{Type: "None", Name: "ports", Old: "http", New: "http"},
					}}},
				}},
			}},
		},
		Annotations: &nomadapi.PlanAnnotations{DesiredTGUpdates: map[string]*nomadapi.DesiredUpdates{
			"web": {Canary: 1, Ignore: 3},
		}},
		FailedTGAllocs: map[string]*nomadapi.AllocationMetric{
			"web": {NodesEvaluated: 1, ConstraintFiltered: map[string]int{"missing drivers": 1}},
		},
	}
	p := summarize(j, resp)
	want := jobPlan{
		Job: "web", Kind: "app", Change: "update", Destructive: true,
		Groups: []groupPlan{{Name: "web", Change: "update", Canary: 1, Unchanged: 3}},
		Fields: []fieldChange{
			{Path: "Meta[version]", Type: "Edited", Old: "1.0.0", New: "1.1.0"},
			{Path: "group web/task web/Config/image", Type: "Edited", Old: "web:1.0.0", New: "web:1.1.0"},
		},
		PlacementFailures: map[string]string{"web": "constraint missing drivers filtered 1 node(s)"},
	}
	if diff := cmp.Diff(want, p); diff != "" {
		t.Errorf("summary (-want +got):\n%s", diff)
	}
	var buf bytes.Buffer
	printPlan(&Output{Stdout: &buf}, p)
	wantText := `~ web (app): update, replacing allocations
    group "web": 1 canary, 3 unchanged
    ~ Meta[version]: "1.0.0" => "1.1.0"
    ~ group web/task web/Config/image: "web:1.0.0" => "web:1.1.0"
    ! group "web" cannot be placed: constraint missing drivers filtered 1 node(s)
`
	if diff := cmp.Diff(wantText, buf.String()); diff != "" {
		t.Errorf("text (-want +got):\n%s", diff)
	}
}

// An unreachable Nomad exits 3 from plan as from every command.
func TestPlanUnreachableExits3(t *testing.T) {
	isolateStackEnv(t)
	r := runApp(t, nil, "--nomad-addr", "http://127.0.0.1:1", "plan", "-f", example, "--env", "dev")
	if r.code != ExitUnreachable || !strings.Contains(r.stderr, `plan of job "pingapp"`) {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
}

func TestPlanInvalidStackExits2(t *testing.T) {
	isolateStackEnv(t)
	r := runApp(t, nil, "--nomad-addr", "http://127.0.0.1:1", "plan", "-f", writeStack(t, brokenStack))
	if r.code != ExitUsage {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
}

// TestPlanAgainstDevStack plans the example's dev rendering on a real dev
// stack: everything is new (exit 1); once the files `hstack render` wrote
// are registered as they are, nothing is left to change (exit 0).
func TestPlanAgainstDevStack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	// Before isolateStackEnv, which hides the tools cache in $HOME.
	s := devstacktest.Start(t)
	isolateStackEnv(t)
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOMAD_ADDR", s.NomadAddr())
	t.Setenv("CONSUL_HTTP_ADDR", s.ConsulAddr())
	t.Setenv("VAULT_ADDR", s.VaultAddr())
	t.Setenv("HSTACK_CONSUL_DNS_ADDR", fmt.Sprintf("127.0.0.1:%d", s.Ports.ConsulDNS))
	args := []string{"-f", example, "--env", "dev"}

	r := runApp(t, nil, append([]string{"plan"}, args...)...)
	if r.code != ExitFailure {
		t.Fatalf("plan of new jobs: exit %d, want 1\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{"+ pingapp (app): create\n", `    group "pingapp": 1 to place`, "+ shop-ingress (ingress): create\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	t.Logf("hstack plan (new jobs):\n%s", r.stdout)

	r = runApp(t, nil, append([]string{"--json", "plan"}, args...)...)
	if r.code != ExitFailure {
		t.Fatalf("plan --json: exit %d\n%s", r.code, r.stderr)
	}
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var p jobPlan
		if err := json.Unmarshal([]byte(line), &p); err != nil || p.Change != "create" {
			t.Errorf("plan --json line %q: %+v, %v", line, p, err)
		}
	}

	out := t.TempDir()
	if r := runApp(t, nil, append([]string{"render", "-o", out}, args...)...); r.code != ExitOK {
		t.Fatalf("render: exit %d\n%s", r.code, r.stderr)
	}
	files, _ := filepath.Glob(filepath.Join(out, "dev", "*.nomad.hcl"))
	if len(files) == 0 {
		t.Fatal("render wrote nothing")
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		job, err := nomad.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: string(src), Canonicalize: true})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, _, err := nomad.Jobs().Register(job, nil); err != nil {
			t.Fatalf("register %s: %v", f, err)
		}
	}

	r = runApp(t, nil, append([]string{"plan"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("plan after registering: exit %d, want 0\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "= pingapp (app): no changes\n") || !strings.Contains(r.stdout, "No changes: ") {
		t.Errorf("plan output:\n%s", r.stdout)
	}
	t.Logf("hstack plan (registered):\n%s", r.stdout)

	// One change to the stack, and plan says which field.
	r = runApp(t, nil, append([]string{"plan", "--var", "log_level=warn", "--commit", "feedbeef"}, args...)...)
	if r.code != ExitFailure || !strings.Contains(r.stdout, `~ pingapp (app): update`) ||
		!strings.Contains(r.stdout, `+ Meta[commit]: "feedbeef"`) {
		t.Errorf("plan of a changed stack: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("hstack plan (changed):\n%s", r.stdout)
}
