package terraform

import (
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// Module interfaces are documented: every variable has a type and a
// description, every output a description (terraform-config-inspect reads
// them as the registry and terraform-docs do).
func TestModuleInterfaces(t *testing.T) {
	base := srcDir(t)
	for _, rel := range roots(t) {
		mod, diags := tfconfig.LoadModule(filepath.Join(base, rel))
		if diags.HasErrors() {
			t.Errorf("terraform/%s: %v", rel, diags.Err())
			continue
		}
		for _, v := range mod.Variables {
			at := func() string { r, _ := filepath.Rel(filepath.Dir(base), v.Pos.Filename); return r }
			if v.Type == "" {
				t.Errorf("%s:%d: variable %q has no type", at(), v.Pos.Line, v.Name)
			}
			if v.Description == "" {
				t.Errorf("%s:%d: variable %q has no description", at(), v.Pos.Line, v.Name)
			}
		}
		for _, o := range mod.Outputs {
			if o.Description == "" {
				r, _ := filepath.Rel(filepath.Dir(base), o.Pos.Filename)
				t.Errorf("%s:%d: output %q has no description", r, o.Pos.Line, o.Name)
			}
		}
	}
}

// TestSecretOutputsSensitive: an output that carries a secret, a token or
// a reference to one is marked sensitive, so `terraform apply`, `output`
// and `hstack infra output` print it only on request. Terraform itself
// refuses an unmarked output of a sensitive value (a sensitive variable or
// module output); this catches the ones named for what they carry.
func TestSecretOutputsSensitive(t *testing.T) {
	base := srcDir(t)
	secretish := regexp.MustCompile(`(?i)secret|token|password|passwd|private_key|credential|gossip|encrypt_key|unseal|recovery_key`)
	checked := 0
	for _, rel := range roots(t) {
		mod, diags := tfconfig.LoadModule(filepath.Join(base, rel))
		if diags.HasErrors() {
			t.Errorf("terraform/%s: %v", rel, diags.Err())
			continue
		}
		for _, o := range mod.Outputs {
			if !secretish.MatchString(o.Name) {
				continue
			}
			checked++
			if !o.Sensitive {
				r, _ := filepath.Rel(filepath.Dir(base), o.Pos.Filename)
				t.Errorf("%s:%d: output %q carries a secret but is not sensitive = true", r, o.Pos.Line, o.Name)
			}
		}
	}
	t.Logf("%d secret-carrying outputs, all sensitive", checked)
}
