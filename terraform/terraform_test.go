package terraform

import (
	"encoding/json"
	"path/filepath"
	"strconv"
	"testing"
)

func TestFmt(t *testing.T) {
	bin := terraformBin(t)
	out, err := tf(t, bin, tfEnv(t.TempDir(), t.TempDir()), srcDir(t), "fmt", "-check", "-recursive", "-diff", "-no-color", ".")
	if err != nil {
		t.Fatalf("terraform fmt -check -recursive: %v; run `terraform fmt -recursive terraform/`:\n%s", err, out)
	}
}

// Every module, every environment layer and outputs root, and bootstrap:
// `terraform init -backend=false`, `terraform validate` against the real
// AWS provider's schema (errors and warnings both fail), and `terraform
// test` with mock_provider "aws", whose run blocks plan and apply against
// the mock and assert what each module guarantees.
func TestValidateAndTest(t *testing.T) {
	bin := terraformBin(t)
	mirror := awsMirror(t)
	tree := copyTree(t)
	dirs := roots(t)
	if len(dirs) < 17 {
		t.Fatalf("found only %d Terraform roots under terraform/: %v", len(dirs), dirs)
	}
	for _, rel := range dirs {
		t.Run(filepath.ToSlash(rel), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(tree, rel)
			env := tfEnv(mirror, t.TempDir())
			tests, _ := filepath.Glob(filepath.Join(dir, "tests", "*.tftest.hcl"))
			if len(tests) == 0 {
				t.Errorf("terraform/%s has no tests/*.tftest.hcl: every module and environment is tested", rel)
			}
			if out, err := tf(t, bin, env, dir, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
				t.Fatalf("terraform init -backend=false in terraform/%s: %v\n%s", rel, err, out)
			}
			out, err := tf(t, bin, env, dir, "validate", "-json", "-no-color")
			var v struct {
				Valid        bool `json:"valid"`
				WarningCount int  `json:"warning_count"`
				Diagnostics  []struct {
					Severity string `json:"severity"`
					Summary  string `json:"summary"`
					Detail   string `json:"detail"`
					Range    *struct {
						Filename string `json:"filename"`
						Start    struct {
							Line int `json:"line"`
						} `json:"start"`
					} `json:"range"`
				} `json:"diagnostics"`
			}
			if jerr := json.Unmarshal([]byte(out), &v); jerr != nil {
				t.Fatalf("terraform validate in terraform/%s: %v (%v)\n%s", rel, err, jerr, out)
			}
			for _, d := range v.Diagnostics {
				at := ""
				if d.Range != nil {
					at = filepath.Join("terraform", rel, d.Range.Filename) + ":" + strconv.Itoa(d.Range.Start.Line) + ": "
				}
				t.Errorf("terraform validate: %s%s: %s: %s", at, d.Severity, d.Summary, d.Detail)
			}
			if !v.Valid || v.WarningCount > 0 {
				t.FailNow()
			}
			if out, err := tf(t, bin, env, dir, "test", "-no-color"); err != nil {
				t.Fatalf("terraform test in terraform/%s: %v\n%s", rel, err, out)
			} else {
				t.Logf("terraform test in terraform/%s:\n%s", rel, out)
			}
		})
	}
}
