package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func readDir(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestRenderWritesEnvDirAndChecks(t *testing.T) {
	isolateStackEnv(t)
	out := t.TempDir()
	r := runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", out, "--commit", "abc1234")
	if r.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	dir := filepath.Join(out, "prod")
	wantLines := []string{"wrote " + filepath.Join(dir, "pingapp.nomad.hcl"), "wrote " + filepath.Join(dir, "shop-ingress.nomad.hcl")}
	for _, l := range wantLines {
		if !strings.Contains(r.stdout, l+"\n") {
			t.Errorf("stdout lacks %q:\n%s", l, r.stdout)
		}
	}

	// The files are exactly what Render gives for the same inputs.
	st, diags := stackfile.Load(example, stackfile.LoadOptions{Env: "prod"})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	jobs, err := render.Render(st, render.Options{Commit: "abc1234"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		got, err := os.ReadFile(filepath.Join(dir, j.File))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(j.HCL), string(got)); diff != "" {
			t.Errorf("%s differs from render.Render (-want +got):\n%s", j.File, diff)
		}
	}

	if r := runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", out, "--commit", "abc1234", "--check"); r.code != ExitOK {
		t.Fatalf("--check right after render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A different commit is a different rendering.
	r = runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", out, "--check")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "changed: "+filepath.Join(dir, "pingapp.nomad.hcl")) {
		t.Fatalf("--check with another commit: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "run 'hstack render -f "+example+" --env prod -o "+out+"'") {
		t.Errorf("stderr does not say how to fix it:\n%s", r.stderr)
	}

	if err := os.Remove(filepath.Join(dir, "shop-ingress.nomad.hcl")); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, "gone.nomad.hcl")
	if err := os.WriteFile(stale, []byte(render.GeneratedMarker+"\njob \"gone\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runApp(t, nil, "--json", "render", "-f", example, "--env", "prod", "-o", out, "--commit", "abc1234", "--check")
	if r.code != ExitFailure {
		t.Fatalf("--check: exit %d\n%s", r.code, r.stderr)
	}
	var got []map[string]string
	for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		var m map[string]string
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON lines: %v\n%s", err, r.stdout)
		}
		got = append(got, m)
	}
	want := []map[string]string{
		{"file": filepath.Join(dir, "shop-ingress.nomad.hcl"), "job": "shop-ingress", "kind": "ingress", "status": "missing"},
		{"file": stale, "status": "extra"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("--check --json (-want +got):\n%s", diff)
	}

	r = runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", out, "--commit", "abc1234")
	if r.code != ExitOK || !strings.Contains(r.stdout, "removed "+stale+"\n") {
		t.Fatalf("render: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var files []string
	for _, j := range jobs {
		files = append(files, j.File)
	}
	sort.Strings(files)
	if diff := cmp.Diff(files, readDir(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

func TestRenderInvalidStackWritesNothing(t *testing.T) {
	isolateStackEnv(t)
	out := filepath.Join(t.TempDir(), "jobs")
	r := runApp(t, nil, "render", "-f", writeStack(t, brokenStack), "-o", out)
	if r.code != ExitUsage || r.stdout != "" {
		t.Fatalf("exit %d, stdout %q; stderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output directory created for an invalid stack: %v", err)
	}
}

func TestRenderErrorIsBadInput(t *testing.T) {
	isolateStackEnv(t)
	src := `
stack "shop" {}
database "main" {
  address = "127.0.0.1"
  role "other" {
    privilege = "readonly"
  }
}
app "web" {
  image = "x:1"
  port "http" {}
  database {
    name = "main"
    role = "other"
  }
}
`
	out := t.TempDir()
	r := runApp(t, nil, "render", "-f", writeStack(t, src), "-o", out)
	if r.code != ExitUsage || !strings.Contains(r.stderr, `hstack.hcl:14,12-19: Role not named after the app`) {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if names := readDir(t, out); len(names) != 0 {
		t.Errorf("files written: %v", names)
	}
	if r := runApp(t, nil, "render", "-f", example, "-o", out, "--bin", "haproxy"); r.code != ExitUsage || !strings.Contains(r.stderr, "NAME=PATH") {
		t.Errorf("--bin without =: exit %d\n%s", r.code, r.stderr)
	}
}

// The base configuration renders into DIR itself, where jobs/ keeps a
// hand-written pingapp.nomad.hcl: render must refuse to replace it.
func TestRenderRefusesHandWrittenFile(t *testing.T) {
	isolateStackEnv(t)
	out := t.TempDir()
	hand := filepath.Join(out, "pingapp.nomad.hcl")
	if err := os.WriteFile(hand, []byte("job \"pingapp\" {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runApp(t, nil, "render", "-f", example, "-o", out)
	if r.code != ExitFailure || !strings.Contains(r.stderr, hand+" exists and was not generated by hstack render") {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if diff := cmp.Diff([]string{"pingapp.nomad.hcl"}, readDir(t, out)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

// A cluster's jobs must not pick up the operator's connection settings;
// the dev stack's are exactly what local jobs need.
func TestRenderAgentAddressesOnlyLocally(t *testing.T) {
	isolateStackEnv(t)
	t.Setenv("CONSUL_HTTP_ADDR", "10.9.8.7:8500")
	t.Setenv("NOMAD_ADDR", "https://10.9.8.7:4646")
	t.Setenv("VAULT_ADDR", "https://10.9.8.7:8200")
	out := t.TempDir()
	for _, env := range []string{"prod", "dev"} {
		if r := runApp(t, nil, "render", "-f", example, "--env", env, "-o", out, "--consul-dns-addr", "127.0.0.1:8601"); r.code != ExitOK {
			t.Fatalf("env %s: exit %d\n%s", env, r.code, r.stderr)
		}
		for _, name := range readDir(t, filepath.Join(out, env)) {
			b, err := os.ReadFile(filepath.Join(out, env, name))
			if err != nil {
				t.Fatal(err)
			}
			if env == "prod" && strings.Contains(string(b), "10.9.8.7") {
				t.Errorf("prod %s contains the operator's agent address", name)
			}
			if env == "dev" && name == "prometheus.nomad.hcl" && !strings.Contains(string(b), "10.9.8.7:8500") {
				t.Errorf("dev %s does not scrape through the dev stack's Consul", name)
			}
			if name == "shop-ingress.nomad.hcl" && !strings.Contains(string(b), "nameserver consul tcp@127.0.0.1:8601") {
				t.Errorf("%s %s does not use --consul-dns-addr", env, name)
			}
		}
	}
}
