package image

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

const packerDir = "../../packer"

// template is packer/ parsed with hcl/v2: `packer validate -syntax-only`
// only parses, and a full validate needs the Amazon plugin, which cannot be
// had offline; these checks cover what the plugin would not anyway.
type template struct {
	files  map[string]*hcl.File
	bodies []*hclsyntax.Body
}

func parseTemplate(t *testing.T) *template {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(packerDir, "*.pkr.hcl"))
	if len(paths) == 0 {
		t.Fatalf("no *.pkr.hcl in %s", packerDir)
	}
	p := hclparse.NewParser()
	tp := &template{files: map[string]*hcl.File{}}
	for _, path := range paths {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		tp.files[path] = f
		tp.bodies = append(tp.bodies, f.Body.(*hclsyntax.Body))
	}
	return tp
}

// blocks returns every block of type typ, at any depth.
func (tp *template) blocks(typ string) []*hclsyntax.Block {
	var out []*hclsyntax.Block
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, blk := range b.Blocks {
			if blk.Type == typ {
				out = append(out, blk)
			}
			walk(blk.Body)
		}
	}
	for _, b := range tp.bodies {
		walk(b)
	}
	return out
}

// expressions returns every attribute expression, at any depth.
func (tp *template) expressions() []hclsyntax.Expression {
	var out []hclsyntax.Expression
	var walk func(b *hclsyntax.Body)
	walk = func(b *hclsyntax.Body) {
		for _, a := range b.Attributes {
			out = append(out, a.Expr)
		}
		for _, blk := range b.Blocks {
			walk(blk.Body)
		}
	}
	for _, b := range tp.bodies {
		walk(b)
	}
	return out
}

func (tp *template) source(r hcl.Range) string {
	for path, f := range tp.files {
		if path == r.Filename {
			return string(r.SliceBytes(f.Bytes))
		}
	}
	return ""
}

func TestTemplateUsesOnlyDeclaredVariablesAndLocals(t *testing.T) {
	tp := parseTemplate(t)
	declared := map[string]map[string]bool{"var": {}, "local": {}}
	for _, v := range tp.blocks("variable") {
		declared["var"][v.Labels[0]] = true
	}
	for _, l := range tp.blocks("locals") {
		for name := range l.Body.Attributes {
			declared["local"][name] = true
		}
	}
	for _, e := range tp.expressions() {
		for _, tr := range e.Variables() {
			root := tr.RootName()
			if root != "var" && root != "local" {
				continue
			}
			attr, ok := tr[1].(hcl.TraverseAttr)
			if !ok {
				continue
			}
			if !declared[root][attr.Name] {
				t.Errorf("%s: %s.%s is not declared", tr.SourceRange(), root, attr.Name)
			}
		}
	}
	for name := range declared["var"] {
		if name == "" {
			t.Error("a variable with no name")
		}
	}
}

var reScriptRef = regexp.MustCompile(`\$\{local\.provision\}/([A-Za-z0-9_${}.\-]+\.sh)`)

// Every file a provisioner uploads or runs exists in the repository, for
// every role: the uploaded sources, the shell scripts, and the role entry
// points the inline commands call out of the uploaded directory.
func TestTemplateProvisionersNameExistingFiles(t *testing.T) {
	tp := parseTemplate(t)
	abs, _ := filepath.Abs(packerDir)
	uploadsProvision := false
	for _, role := range Roles {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{
			"path": cty.ObjectVal(map[string]cty.Value{"root": cty.StringVal(abs)}),
			"var":  cty.ObjectVal(map[string]cty.Value{"role": cty.StringVal(role)}),
		}}
		for _, p := range tp.blocks("provisioner") {
			for _, name := range []string{"source", "script", "scripts"} {
				a, ok := p.Body.Attributes[name]
				if !ok {
					continue
				}
				v, diags := a.Expr.Value(ctx)
				if diags.HasErrors() {
					// An operator's own file (var.hashicorp_gpg_key), not one of ours.
					continue
				}
				var paths []string
				if v.Type() == cty.String {
					paths = []string{v.AsString()}
				} else {
					for _, e := range v.AsValueSlice() {
						paths = append(paths, e.AsString())
					}
				}
				for _, path := range paths {
					if _, err := os.Stat(path); err != nil {
						t.Errorf("%s: provisioner %q names %s, which does not exist", a.SrcRange, p.Labels[0], path)
					}
					if strings.HasSuffix(filepath.Clean(path), filepath.Join("scripts", "provision")) {
						uploadsProvision = true
					}
				}
			}
			if a, ok := p.Body.Attributes["inline"]; ok {
				for _, m := range reScriptRef.FindAllStringSubmatch(tp.source(a.Expr.Range()), -1) {
					script := strings.ReplaceAll(m[1], "${var.role}", role)
					if _, err := os.Stat(filepath.Join(packerDir, "..", "scripts", "provision", script)); err != nil {
						t.Errorf("%s: role %s runs %s, which scripts/provision does not have", a.SrcRange, role, script)
					}
				}
			}
		}
	}
	if !uploadsProvision {
		t.Error("no provisioner uploads scripts/provision")
	}
}

// What the image promises, read off the template.
func TestTemplateDeclaresWhatTheImagesPromise(t *testing.T) {
	tp := parseTemplate(t)
	var text strings.Builder
	for _, f := range tp.files {
		text.Write(f.Bytes)
	}
	all := text.String()
	for _, want := range []string{
		`source  = "github.com/hashicorp/amazon"`,
		`source "amazon-ebs" "hstack"`,
		`owners      = ["136693071363"]`, // the Debian project's AWS account
		`http_tokens                 = "required"`,
		`encrypted             = true`,
		`encrypt_boot = true`,
		`post-processor "manifest"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("template lacks %s", want)
		}
	}
	if n := len(tp.blocks("source")); n != 1 {
		t.Errorf("%d sources, want one amazon-ebs source for every role", n)
	}
	tags := tp.blocks("source")[0].Body.Attributes["tags"]
	if tags == nil {
		t.Fatal("the source has no tags")
	}
	src := tp.source(tags.Expr.Range())
	for _, k := range []string{"role", "nomad_version", "consul_version", "vault_version", "git_commit", "build_time"} {
		if !regexp.MustCompile(`(?m)^\s*` + k + `\s*=`).MatchString(src) {
			t.Errorf("AMI tags lack %s", k)
		}
	}
}

func packerBin(t *testing.T) string {
	t.Helper()
	bin, err := tools.Find("packer")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return bin
}

func packer(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_CONFIG_DIR="+t.TempDir(), "PACKER_PLUGIN_PATH="+t.TempDir())
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPackerFmtAndSyntaxValidate(t *testing.T) {
	bin := packerBin(t)
	if out, err := packer(t, bin, "fmt", "-check", "-diff", "-recursive", packerDir); err != nil {
		t.Fatalf("packer fmt -check: %v\n%s", err, out)
	}
	if out, err := packer(t, bin, "fmt", "-check", "-diff", "testdata/template"); err != nil {
		t.Fatalf("packer fmt -check testdata: %v\n%s", err, out)
	}
	for _, role := range Roles {
		out, err := packer(t, bin, "validate", "-syntax-only", "-var", "role="+role, packerDir)
		if err != nil {
			t.Errorf("packer validate -syntax-only (role %s): %v\n%s", role, err, out)
		}
	}
	// -syntax-only does parse: a broken template is caught.
	broken := t.TempDir()
	b, _ := os.ReadFile(filepath.Join(packerDir, "hstack.pkr.hcl"))
	if err := os.WriteFile(filepath.Join(broken, "hstack.pkr.hcl"), append(b, []byte("\nbuild {\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := packer(t, bin, "validate", "-syntax-only", broken); err == nil {
		t.Errorf("packer validate -syntax-only accepted an unclosed block:\n%s", out)
	}
}
