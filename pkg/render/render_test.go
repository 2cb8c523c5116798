package render

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

var update = flag.Bool("update", false, "rewrite testdata/golden from the renderer's output")

const exampleFile = "../../hstack.hcl"

// exampleEnvs are the environments of the example stack, "" being the
// base configuration.
var exampleEnvs = []string{"", "dev", "prod"}

func envName(env string) string {
	if env == "" {
		return "base"
	}
	return env
}

// goldenOptions are fixed so the golden files do not depend on the machine
// or the checkout.
var goldenOptions = Options{Commit: "0123456789abcdef0123456789abcdef01234567"}

// loadExample loads the repository's hstack.hcl for env. Its directory is
// replaced by a fixed one: raw_exec commands are made absolute, and golden
// files must not depend on where the repository is checked out.
func loadExample(t testing.TB, env string) *stackfile.Stack {
	t.Helper()
	st, diags := stackfile.Load(exampleFile, stackfile.LoadOptions{Env: env, Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatalf("example stack, env %q: %s", env, diags.Error())
	}
	st.Dir = "/srv/hstack"
	return st
}

func mustRender(t testing.TB, st *stackfile.Stack, opts Options) []*Job {
	t.Helper()
	jobs, err := Render(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

func jobNamed(t testing.TB, jobs []*Job, name string) *Job {
	t.Helper()
	for _, j := range jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("no job %q among %d rendered", name, len(jobs))
	return nil
}

// TestGolden renders the example stack in each of its environments and
// compares the files with testdata/golden/<env>/, using Check, the code
// behind `hstack render --check`. For prod the golden files are the
// committed jobs/prod/, which is what `hstack render --env prod` writes:
// one copy, reviewed in pull requests. Regenerate with
// `go test ./pkg/render -run TestGolden -update`.
func TestGolden(t *testing.T) {
	for _, env := range exampleEnvs {
		t.Run(envName(env), func(t *testing.T) {
			opts, dir := goldenOptions, filepath.Join("testdata", "golden", envName(env))
			if envName(env) == "prod" {
				opts, dir = Options{}, filepath.Join("..", "..", "jobs", "prod")
			}
			jobs := mustRender(t, loadExample(t, env), opts)
			if *update {
				if _, err := Write(dir, jobs); err != nil {
					t.Fatal(err)
				}
				if _, err := Prune(dir, jobs); err != nil {
					t.Fatal(err)
				}
				return
			}
			differs, err := Check(dir, jobs)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range differs {
				want, _ := os.ReadFile(p)
				var got []byte
				for _, j := range jobs {
					if j.File == filepath.Base(p) {
						got = j.HCL
					}
				}
				t.Errorf("%s is out of date (run `go test ./pkg/render -run TestGolden -update` if intended):\n%s",
					p, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

func TestExampleJobs(t *testing.T) {
	want := map[string][]string{
		"":     {"pingapp", "shop-ingress"},
		"dev":  {"pingapp", "shop-ingress"},
		"prod": {"pingapp", "shop-ingress", "nomad-autoscaler"},
	}
	for _, env := range exampleEnvs {
		jobs := mustRender(t, loadExample(t, env), goldenOptions)
		var names []string
		for _, j := range jobs {
			if j.Kind == KindMonitoring {
				continue
			}
			names = append(names, j.Name)
			if j.File != j.Name+Extension {
				t.Errorf("%s: file %q", j.Name, j.File)
			}
			if !bytes.HasPrefix(j.HCL, []byte(GeneratedMarker+"\n")) {
				t.Errorf("%s: HCL does not start with the generated marker", j.Name)
			}
		}
		if diff := cmp.Diff(want[env], names); diff != "" {
			t.Errorf("env %q: non-monitoring jobs (-want +got):\n%s", env, diff)
		}
	}
}

// TestDeterministic renders twice from separately loaded stacks, and twice
// from the same one (Render must not modify its input): Go randomises map
// iteration, so any unsorted output shows up as a difference.
func TestDeterministic(t *testing.T) {
	for _, env := range exampleEnvs {
		st := loadExample(t, env)
		first := mustRender(t, st, goldenOptions)
		for _, again := range [][]*Job{
			mustRender(t, st, goldenOptions),
			mustRender(t, loadExample(t, env), goldenOptions),
			mustRender(t, loadExample(t, env), goldenOptions),
		} {
			if len(again) != len(first) {
				t.Fatalf("env %q: %d jobs, then %d", env, len(first), len(again))
			}
			for i := range first {
				if !bytes.Equal(first[i].HCL, again[i].HCL) {
					t.Fatalf("env %q: job %s rendered differently:\n%s", env, first[i].Name, cmp.Diff(string(first[i].HCL), string(again[i].HCL)))
				}
			}
		}
	}
}

// secretAssignment finds a credential-looking key given a literal value:
// `password = "x"`, `token: x`, `PASSWORD=x`. Values that are template
// actions ({{ ... }}) or references to files are what the rendered jobs
// must use instead.
var secretAssignment = regexp.MustCompile(`(?i)\b[a-z_]*(password|passwd|secret|token|api_key|routing_key|service_key)\b["']?\s*[=:]\s*["']?([^"'{\s$][^"'\s]*)`)

// TestNoSecretsInRenderedFiles checks every rendered file of the example
// for credentials: none may be written, only fetched at run time.
func TestNoSecretsInRenderedFiles(t *testing.T) {
	for _, env := range exampleEnvs {
		for _, j := range mustRender(t, loadExample(t, env), goldenOptions) {
			for _, m := range secretAssignment.FindAllStringSubmatch(string(j.HCL), -1) {
				t.Errorf("env %s, %s: credential-looking assignment %q", envName(env), j.File, m[0])
			}
			for _, tg := range j.Job.TaskGroups {
				for _, task := range tg.Tasks {
					for k := range task.Env {
						if regexp.MustCompile(`(?i)password|token|secret`).MatchString(k) {
							t.Errorf("env %s, %s: task %s has env %s", envName(env), j.File, task.Name, k)
						}
					}
					// Only app tasks are held to this here: their environment
					// is the app's, which may log or expose it.
					if v := task.Vault; j.Kind == KindApp && v != nil && (v.Env == nil || *v.Env) {
						t.Errorf("env %s, %s: task %s gets its Vault token in the environment", envName(env), j.File, task.Name)
					}
				}
			}
		}
	}
	// Alerting secrets are fetched from Vault by reference, at run time.
	st := loadExample(t, "prod")
	am := jobNamed(t, mustRender(t, st, goldenOptions), "alertmanager")
	for _, rc := range st.Monitoring.Alertmanager.Receivers {
		for _, ref := range []*stackfile.SecretRef{rc.Key, rc.URL} {
			if ref == nil {
				continue
			}
			if want := fmt.Sprintf(`secret \"%s\"`, ref.VaultPath); !strings.Contains(string(am.HCL), want) || !strings.Contains(string(am.HCL), "."+ref.VaultKey+" ") {
				t.Errorf("receiver %s: alertmanager job does not read %s from Vault", rc.Name, ref)
			}
		}
	}

	// The pattern itself must catch what it is for.
	for _, bad := range []string{`password = "hunter2"`, `PGPASSWORD=hunter2`, `routing_key: abc123`, `token = "s.xyz"`} {
		if !secretAssignment.MatchString(bad) {
			t.Errorf("secretAssignment misses %q", bad)
		}
	}
	for _, ok := range []string{`password={{ .Data.password }}`, `key_vault = "secret/data/x#k"`} {
		if secretAssignment.MatchString(ok) {
			t.Errorf("secretAssignment flags %q", ok)
		}
	}
}

func TestLocal(t *testing.T) {
	for env, want := range map[string]bool{"": false, "dev": true, "prod": false} {
		if got := Local(loadExample(t, env)); got != want {
			t.Errorf("Local(env %q) = %v, want %v", env, got, want)
		}
	}
}

func TestDuplicateJobNames(t *testing.T) {
	st := parseStack(t, `
stack "shop" {}
app "shop-ingress" {
  image = "x:1"
  port "http" {}
}
ingress {
  route "r" {
    app = "shop-ingress"
  }
}
`)
	_, err := Render(st, Options{})
	if err == nil || !strings.Contains(err.Error(), `two jobs named "shop-ingress"`) {
		t.Fatalf("err = %v, want a duplicate job name error", err)
	}
}

func parseStack(t testing.TB, src string) *stackfile.Stack {
	t.Helper()
	return parseStackEnv(t, src, "")
}

func parseStackEnv(t testing.TB, src, env string) *stackfile.Stack {
	t.Helper()
	st, diags := stackfile.Parse([]byte(src), "/srv/hstack/hstack.hcl", stackfile.LoadOptions{Env: env, Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatalf("stack does not load: %s", diags.Error())
	}
	return st
}
