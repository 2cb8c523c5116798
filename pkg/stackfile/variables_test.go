package stackfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// varStack declares decl and uses var.tag in the image, so tests can
// read the resolved value back from the model too.
func varStack(decl string) string {
	return decl + "\nstack \"s\" {}\napp \"web\" {\n  image = \"nginx:${var.tag}\"\n  port \"http\" {}\n}\n"
}

func envFrom(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVariablePrecedence(t *testing.T) {
	src := varStack(`variable "tag" {
  type    = string
  default = "from-default"
}`)
	file1 := writeFile(t, "a.hstackvars", "tag = \"from-file-1\"\n")
	file2 := writeFile(t, "b.hstackvars", "tag = \"from-file-2\"\n")
	jsonFile := writeFile(t, "c.json", `{"tag": "from-json"}`)

	for _, tc := range []struct {
		name string
		opts LoadOptions
		want string
		src  ValueSource
	}{
		{"default", LoadOptions{}, "from-default", SourceDefault},
		{"env beats default", LoadOptions{Getenv: envFrom("HSTACK_VAR_tag", "from-env")}, "from-env", SourceEnv},
		{"var-file beats env", LoadOptions{Getenv: envFrom("HSTACK_VAR_tag", "from-env"), VarFiles: []string{file1}}, "from-file-1", SourceVarFile},
		{"later var-file wins", LoadOptions{VarFiles: []string{file1, file2}}, "from-file-2", SourceVarFile},
		{"json var-file", LoadOptions{VarFiles: []string{file1, jsonFile}}, "from-json", SourceVarFile},
		{"-var beats var-file and env", LoadOptions{Getenv: envFrom("HSTACK_VAR_tag", "from-env"), VarFiles: []string{file1}, Vars: []string{"tag=from-cli"}}, "from-cli", SourceCLI},
		{"later -var wins", LoadOptions{Vars: []string{"tag=one", "tag=two"}}, "two", SourceCLI},
		{"-var value may contain =", LoadOptions{Vars: []string{"tag=a=b"}}, "a=b", SourceCLI},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.opts.Getenv == nil {
				tc.opts.Getenv = envFrom()
			}
			s, diags := Parse([]byte(src), "test.hcl", tc.opts)
			if diags.HasErrors() {
				t.Fatalf("errors:%s", dumpDiags(diags))
			}
			v := s.Variable("tag")
			if v.Value.AsString() != tc.want || v.Source != tc.src {
				t.Errorf("tag = %q from %s, want %q from %s", v.Value.AsString(), v.Source, tc.want, tc.src)
			}
			if got := s.App("web").Image; got != "nginx:"+tc.want {
				t.Errorf("image = %q, the value did not reach the expression", got)
			}
		})
	}
}

func TestGetenvDefaultsToOSEnvironment(t *testing.T) {
	t.Setenv("HSTACK_VAR_tag", "from-os")
	s, diags := Parse([]byte(varStack(`variable "tag" {}`)), "test.hcl", LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("errors:%s", dumpDiags(diags))
	}
	if got := s.Variable("tag").Value.AsString(); got != "from-os" {
		t.Errorf("tag = %q, want from-os", got)
	}
}

func TestVariableTypes(t *testing.T) {
	src := `variable "tag" {
  default = "x"
}
variable "replicas" {
  type = number
}
variable "zones" {
  type    = list(string)
  default = []
}
variable "labels" {
  type    = map(string)
  default = {}
}
variable "opts" {
  type    = object({ debug = bool, level = optional(string, "info") })
  default = { debug = false }
}
stack "s" {}
app "web" {
  image = "nginx:${var.tag}"
  count = var.replicas
  tags  = concat(var.zones, [var.opts.level])
  meta  = var.labels
  port "http" {}
}
`
	s, diags := Parse([]byte(src), "test.hcl", LoadOptions{
		Getenv: envFrom("HSTACK_VAR_replicas", "3", "HSTACK_VAR_zones", `["a", "b"]`),
		Vars:   []string{`labels={ team = "payments" }`, `opts={ debug = true }`},
	})
	if diags.HasErrors() {
		t.Fatalf("errors:%s", dumpDiags(diags))
	}
	a := s.App("web")
	if a.Count != 3 {
		t.Errorf("count = %d; a string from the environment must convert to number", a.Count)
	}
	if strings.Join(a.Tags, ",") != "a,b,info" {
		t.Errorf("tags = %v; list from HCL syntax plus the optional attribute's default", a.Tags)
	}
	if a.Meta["team"] != "payments" {
		t.Errorf("meta = %v", a.Meta)
	}
	if v := s.Variable("opts").Value; !v.GetAttr("debug").True() {
		t.Errorf("opts = %#v", v)
	}
	if ty := s.Variable("zones").Type; !ty.Equals(cty.List(cty.String)) {
		t.Errorf("zones type = %#v", ty)
	}
}

func TestVariableErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"missing value", varStack("@@variable \"tag\" {\n  type = string\n}"), "No value for required variable", LoadOptions{}},
		{"undeclared -var", varStack("variable \"tag\" {\n  default = \"x\"\n}"), "Value for undeclared variable", LoadOptions{Vars: []string{"tga=1"}}},
		{"-var without =", varStack("variable \"tag\" {\n  default = \"x\"\n}"), "Invalid -var option", LoadOptions{Vars: []string{"tag"}}},
		{"default of wrong type", varStack("variable \"tag\" {\n  type = number\n  default = @@\"abc\"\n}"), "Invalid default value for variable", LoadOptions{}},
		{"default referring to a variable", varStack("variable \"tag\" {\n  default = @@var.other\n}\nvariable \"other\" {\n  default = \"x\"\n}"), "Variables not allowed", LoadOptions{}},
		{"bad type expression", varStack("variable \"tag\" {\n  type = @@strin\n}"), "Invalid type specification", LoadOptions{}},
		{"validation fails on default", varStack("variable \"tag\" {\n  default = @@\"latest\"\n  validation {\n    condition = var.tag != \"latest\"\n    error_message = \"Pin a tag.\"\n  }\n}"), "Invalid value for variable", LoadOptions{}},
		{"unknown attribute", varStack("variable \"tag\" {\n  default = \"x\"\n  @@nullable = true\n}"), "Unsupported argument", LoadOptions{}},
	})

	t.Run("value of wrong type points at its source", func(t *testing.T) {
		src := varStack("variable \"tag\" {}\nvariable \"n\" {\n  type = number\n  default = 1\n}")
		_, diags := Parse([]byte(src), "test.hcl", LoadOptions{Getenv: envFrom(), Vars: []string{"tag=x", "n=many"}})
		requireDiag(t, diags, "Invalid value for input variable", "<value for var.n>", 1, 1)

		_, diags = Parse([]byte(src), "test.hcl", LoadOptions{Getenv: envFrom("HSTACK_VAR_n", "lots"), Vars: []string{"tag=x"}})
		requireDiag(t, diags, "Invalid value for input variable", "<value for var.n from HSTACK_VAR_n>", 1, 1)

		vf := writeFile(t, "v.hstackvars", "tag = \"x\"\nn   = [1]\n")
		_, diags = Parse([]byte(src), "test.hcl", LoadOptions{Getenv: envFrom(), VarFiles: []string{vf}})
		requireDiag(t, diags, "Invalid value for input variable", vf, 2, 7)
	})

	t.Run("undeclared variable in a var-file", func(t *testing.T) {
		vf := writeFile(t, "v.hstackvars", "tag = \"x\"\nimage_tga = \"y\"\n")
		_, diags := Parse([]byte(varStack("variable \"tag\" {}")), "test.hcl", LoadOptions{Getenv: envFrom(), VarFiles: []string{vf}})
		requireDiag(t, diags, "Value for undeclared variable", vf, 2, 1)
		if !strings.Contains(diags.Error(), "image_tga") {
			t.Errorf("the error must name the variable: %s", diags.Error())
		}
	})

	t.Run("var-file may not call functions", func(t *testing.T) {
		vf := writeFile(t, "v.hstackvars", "tag = upper(\"x\")\n")
		_, diags := Parse([]byte(varStack("variable \"tag\" {}")), "test.hcl", LoadOptions{Getenv: envFrom(), VarFiles: []string{vf}})
		requireDiag(t, diags, "Function calls not allowed", vf, 1, 7)
	})

	t.Run("missing var-file", func(t *testing.T) {
		_, diags := Parse([]byte(varStack("variable \"tag\" {}")), "test.hcl", LoadOptions{Getenv: envFrom(), VarFiles: []string{"/nonexistent/x.hstackvars"}})
		if !diags.HasErrors() || !strings.Contains(diags.Error(), "/nonexistent/x.hstackvars") {
			t.Errorf("want a read error naming the file: %v", diags)
		}
	})

	t.Run("undeclared HSTACK_VAR_ is ignored", func(t *testing.T) {
		_, diags := Parse([]byte(varStack("variable \"tag\" {\n  default = \"x\"\n}")), "test.hcl", LoadOptions{Getenv: envFrom("HSTACK_VAR_other", "1")})
		if diags.HasErrors() {
			t.Errorf("a shell may export variables for other stacks:%s", dumpDiags(diags))
		}
	})

	t.Run("a broken variable causes no follow-up errors", func(t *testing.T) {
		src := varStack("variable \"tag\" {\n  type = number\n}")
		_, diags := Parse([]byte(src), "test.hcl", LoadOptions{Getenv: envFrom()})
		if len(diags) != 1 {
			t.Errorf("want only the missing-value error:%s", dumpDiags(diags))
		}
	})
}

func TestSensitiveValuesStayOutOfDiagnostics(t *testing.T) {
	src := `variable "token" {
  sensitive = true
  default   = "s3cr3t-value"
}
stack "s" {}
app "web" {
  image = "x"
  count = var.token
  port "http" {}
}
`
	_, diags := Parse([]byte(src), "test.hcl", LoadOptions{Getenv: envFrom()})
	requireDiag(t, diags, "Incorrect attribute value type", "test.hcl", 8, 11)
	for _, d := range diags {
		if d.EvalContext != nil || strings.Contains(d.Detail, "s3cr3t") {
			t.Errorf("diagnostic would reveal the sensitive value: %+v", d)
		}
	}
}
