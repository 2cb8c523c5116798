package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// isolateStackEnv keeps the developer's HSTACK_* settings out of the test.
func isolateStackEnv(t *testing.T) {
	t.Helper()
	isolateEnv(t)
	for _, k := range []string{"HSTACK_FILE", "HSTACK_ENV", "HSTACK_VAR_image_tag", "HSTACK_VAR_pingapp_bin", "HSTACK_VAR_log_level", "HSTACK_VAR_replicas", "COLUMNS"} {
		t.Setenv(k, "")
	}
}

const example = "../../hstack.hcl"

func writeStack(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "hstack.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const brokenStack = `stack "shop" {}

app "web" {
  image = "nginx:1"
  port "http" {}

  rollout {
    healthy_deadline = "5 minutes"
  }
}

notifier "ops" {
  type = "slack"
  url  = "https://hooks.slack.com/services/T0/B0/XXXX"
}
`

func TestValidateBrokenFileExits2WithPositions(t *testing.T) {
	isolateStackEnv(t)
	path := writeStack(t, brokenStack)
	r := runApp(t, nil, "validate", "-f", path)
	if r.code != ExitUsage {
		t.Fatalf("exit %d, want %d; stderr:\n%s", r.code, ExitUsage, r.stderr)
	}
	if r.stdout != "" {
		t.Errorf("an invalid file must print nothing on stdout, got %q", r.stdout)
	}
	for _, want := range []string{
		path + ":8,24-35: Invalid duration",
		path + ":14,3-55: Inline secret",
		// HCL's standard format, with the source line quoted.
		"Error: Invalid duration",
		`   8:     healthy_deadline = "5 minutes"`,
		"2 errors",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if strings.Contains(r.stderr, "\x1b[") {
		t.Error("colour codes in output that is not a terminal")
	}
}

func TestValidateExample(t *testing.T) {
	isolateStackEnv(t)
	r := runApp(t, nil, "validate", "--file", example)
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	want := example + ": valid (base and environments dev, prod): 1 app, 1 database, 1 notifier, ingress, monitoring\n"
	if r.stdout != want {
		t.Errorf("stdout = %q, want %q", r.stdout, want)
	}

	t.Setenv("HSTACK_FILE", example)
	t.Setenv("HSTACK_ENV", "prod")
	r = runApp(t, nil, "validate", "--json")
	if r.code != 0 {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	var res validateResult
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatalf("invalid JSON %q: %v", r.stdout, err)
	}
	if !res.Valid || res.Environment != "prod" || res.Stack != "shop" || len(res.Apps) != 1 || res.Apps[0] != "pingapp" || !res.Monitoring {
		t.Errorf("JSON result = %+v", res)
	}
}

func TestValidateChecksEveryEnvironmentByDefault(t *testing.T) {
	isolateStackEnv(t)
	path := writeStack(t, `stack "s" {}
app "web" {
  image = "nginx:1"
  port "http" {}
}
environment "dev" {}
environment "prod" {
  app "web" {
    count = -1
  }
}
`)
	if r := runApp(t, nil, "validate", "-f", path, "--env", "dev"); r.code != 0 {
		t.Fatalf("dev alone is valid; exit %d:\n%s", r.code, r.stderr)
	}
	r := runApp(t, nil, "validate", "-f", path)
	if r.code != ExitUsage || !strings.Contains(r.stderr, path+":9,13-15: Invalid count") {
		t.Errorf("exit %d; want the prod error:\n%s", r.code, r.stderr)
	}
}

func TestValidateVariablesAndEnvironments(t *testing.T) {
	isolateStackEnv(t)
	path := writeStack(t, `variable "replicas" {
  type = number
}
stack "s" {}
app "web" {
  image = "nginx:1"
  count = var.replicas
  port "http" {}
}
`)
	varFile := filepath.Join(t.TempDir(), "prod.hstackvars")
	if err := os.WriteFile(varFile, []byte("replicas = 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		code int
		want *regexp.Regexp
		not  string
	}{
		{"missing value", nil, nil, ExitUsage, regexp.MustCompile(`No value for required variable`), ""},
		{"from --var", []string{"--var", "replicas=2"}, nil, 0, regexp.MustCompile(`valid \(base\)`), ""},
		{"--var with a comma stays one value", []string{"--var", "replicas=[1,2]"}, nil, ExitUsage, regexp.MustCompile(`a number is required`), "Invalid -var option"},
		{"from --var-file", []string{"--var-file", varFile}, nil, 0, regexp.MustCompile(`valid`), ""},
		{"from HSTACK_VAR_", nil, map[string]string{"HSTACK_VAR_replicas": "3"}, 0, regexp.MustCompile(`valid`), ""},
		{"undeclared --var", []string{"--var", "replicas=1", "--var", "zones=a"}, nil, ExitUsage, regexp.MustCompile(`Value for undeclared variable[\s\S]*"zones"`), ""},
		{"unknown env", []string{"--var", "replicas=1", "--env", "staging"}, nil, ExitUsage, regexp.MustCompile(`Unknown environment`), ""},
		{"positional argument", []string{"extra"}, nil, ExitUsage, regexp.MustCompile(`unexpected argument "extra"`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateStackEnv(t)
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			r := runApp(t, nil, append([]string{"validate", "-f", path}, tc.args...)...)
			if tc.not != "" && strings.Contains(r.stderr, tc.not) {
				t.Errorf("output has %q:\n%s", tc.not, r.stderr)
			}
			if r.code != tc.code || !tc.want.MatchString(r.stdout+r.stderr) {
				t.Errorf("exit %d (want %d), output lacks %s:\n%s%s", r.code, tc.code, tc.want, r.stdout, r.stderr)
			}
		})
	}
}

func TestValidateMissingFile(t *testing.T) {
	isolateStackEnv(t)
	r := runApp(t, nil, "validate", "-f", filepath.Join(t.TempDir(), "nope.hcl"))
	if r.code != ExitUsage || !strings.Contains(r.stderr, "nope.hcl") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

// TestValidateCatchesWhatRenderRefuses: each rule that render, deploy or
// db used to enforce on their own is a diagnostic of `hstack validate`,
// with the file, line and column of what to fix, and render refuses the
// same file with exit 2, writing nothing.
func TestValidateCatchesWhatRenderRefuses(t *testing.T) {
	const base = `stack %q {}
database "main" {
  address = %q
  role "web" {
    privilege = "readonly"
  }
  role "other" {
    privilege = "readonly"
  }
}
database "second" {
  address = "127.0.0.2"
  role %q {
    privilege = "readonly"
  }
}
app %q {
  image = "x:1"
  meta  = %s
  env   = %s
  config = { a = "1" }
  port "http" {}
  database {
    name = %q
    role = %q
  }
  port "admin" {}
}
%s
`
	type stack struct{ name, addr, role2, app, meta, env, db, role, extra string }
	ok := stack{"shop", "127.0.0.1", "third", "web", "{}", "{}", "main", "web", ""}
	src := func(s stack) string {
		return fmt.Sprintf(base, s.name, s.addr, s.role2, s.app, s.meta, s.env, s.db, s.role, s.extra)
	}
	for _, tc := range []struct {
		name string
		edit func(*stack)
		want string // position and summary
	}{
		{"reserved meta key", func(s *stack) { s.meta = `{ hstack_strategy = "x" }` }, ":19,11-36: Reserved meta key"},
		{"role not named after the app", func(s *stack) { s.role = "other" }, ":25,12-19: Role not named after the app"},
		{"template braces in a database value", func(s *stack) { s.addr = "{{ env \"X\" }}" }, ":3,13-30: Invalid address"},
		{"env set by hstack for a database", func(s *stack) { s.env = `{ DATABASE_URL_FILE = "/x" }` }, ":20,11-39: Conflicting env"},
		{"env set by hstack for config", func(s *stack) { s.env = `{ HSTACK_CONFIG_FILE = "/x" }` }, ":20,11-40: Conflicting env"},
		{"ingress service name not a DNS label", func(s *stack) {
			s.name = strings.Repeat("s", 50)
			s.extra = "ingress {\n  route \"r\" {\n    app = \"web\"\n  }\n}"
		}, ":1,1-59: Invalid derived name"},
		{"route's service name not a DNS label", func(s *stack) {
			s.app, s.db, s.role, s.role2 = strings.Repeat("w", 58), "second", strings.Repeat("w", 58), strings.Repeat("w", 58)
			s.extra = "ingress {\n  route \"r\" {\n    app  = \"" + s.app + "\"\n    port = \"admin\"\n  }\n}"
		}, ":32,12-19: Invalid derived name"},
		{"one role name twice on a vault_mount", func(s *stack) { s.role2 = "other" }, ":13,3-15: Duplicate role on vault_mount"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			isolateStackEnv(t)
			s := ok
			tc.edit(&s)
			path := writeStack(t, src(s))
			r := runApp(t, nil, "validate", "-f", path)
			if r.code != ExitUsage || !strings.Contains(r.stderr, path+tc.want) {
				t.Errorf("validate: exit %d, want 2 and %q in stderr:\n%s", r.code, path+tc.want, r.stderr)
			}
			out := t.TempDir()
			if r := runApp(t, nil, "render", "-f", path, "-o", out); r.code != ExitUsage {
				t.Errorf("render: exit %d, want 2:\n%s", r.code, r.stderr)
			}
			if names := readDir(t, out); len(names) != 0 {
				t.Errorf("render wrote %v", names)
			}
		})
	}
	isolateStackEnv(t)
	if r := runApp(t, nil, "validate", "-f", writeStack(t, src(ok))); r.code != ExitOK {
		t.Fatalf("the unedited stack must be valid: exit %d\n%s", r.code, r.stderr)
	}
}
