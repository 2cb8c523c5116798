package terraform

import (
	"path/filepath"
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
