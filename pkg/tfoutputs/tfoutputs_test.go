package tfoutputs_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// fakeOutputs stands in for `terraform output` in unit tests: name -> JSON
// value. nil fails as a directory without state would.
type fakeOutputs map[string]string

func (f fakeOutputs) Outputs(_ context.Context, dir string) (map[string]json.RawMessage, error) {
	if f == nil {
		return nil, errors.New("no state")
	}
	m := map[string]json.RawMessage{}
	for k, v := range f {
		m[k] = json.RawMessage(v)
	}
	return m, nil
}

// with returns a copy of f with name set to v, or removed when v is "".
func (f fakeOutputs) with(name, v string) fakeOutputs {
	m := fakeOutputs{}
	for k, vv := range f {
		m[k] = vv
	}
	delete(m, name)
	if v != "" {
		m[name] = v
	}
	return m
}

// stackSrc declares the attributes on lines 5-8, each value at column 14.
const stackSrc = `
stack "shop" {}
database "main" {
  from_terraform_output {
    dir    = "tf"
    writer = "aurora_writer_endpoint"
    reader = "aurora_reader_endpoint"
    port   = "aurora_port"
  }
}
app "web" {
  driver  = "raw_exec"
  command = "/bin/true"
  port "http" {}
}
`

func parse(t *testing.T, src, dir string) (*stackfile.Stack, *stackfile.Database) {
	t.Helper()
	st, diags := stackfile.Parse([]byte(src), filepath.Join(dir, "hstack.hcl"), stackfile.LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return st, st.Databases[0]
}

var full = fakeOutputs{
	"aurora_writer_endpoint": `"w.example"`,
	"aurora_reader_endpoint": `"r.example"`,
	"aurora_port":            `5433`,
	"unrelated":              `{"a": 1}`,
}

func TestEndpointsFromTerraformOutputs(t *testing.T) {
	ctx := context.Background()
	st, db := parse(t, stackSrc, "/stack")
	for _, tc := range []struct {
		name string
		outs fakeOutputs
		want tfoutputs.Endpoints
	}{
		{"number port", full, tfoutputs.Endpoints{Writer: "w.example", Reader: "r.example", Port: 5433}},
		{"string port", full.with("aurora_port", `"6432"`), tfoutputs.Endpoints{Writer: "w.example", Reader: "r.example", Port: 6432}},
		{"number host", full.with("aurora_writer_endpoint", `10`), tfoutputs.Endpoints{Writer: "10", Reader: "r.example", Port: 5433}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tfoutputs.EndpointsFor(ctx, st, db, tc.outs)
			if err != nil || got != tc.want {
				t.Fatalf("endpoints %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}

	// No port output declared: PostgreSQL's standard port, whatever
	// outputs exist. No reader declared: none.
	st, db = parse(t, strings.Replace(strings.Replace(stackSrc, `port   = "aurora_port"`, "", 1), `reader = "aurora_reader_endpoint"`, "", 1), "/stack")
	got, err := tfoutputs.EndpointsFor(ctx, st, db, full)
	if want := (tfoutputs.Endpoints{Writer: "w.example", Port: 5432}); err != nil || got != want {
		t.Errorf("without port and reader outputs: %+v, %v; want %+v", got, err, want)
	}
}

func TestEndpointsFromAddress(t *testing.T) {
	st, diags := stackfile.Parse([]byte(`
stack "shop" {}
database "main" {
  address = "10.0.0.5"
  port    = 15432
}
app "web" {
  driver  = "raw_exec"
  command = "/bin/true"
  port "http" {}
}
`), "/stack/hstack.hcl", stackfile.LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	// No Reader is needed, nor used.
	got, err := tfoutputs.EndpointsFor(context.Background(), st, st.Databases[0], nil)
	if want := (tfoutputs.Endpoints{Writer: "10.0.0.5", Port: 15432}); err != nil || got != want {
		t.Errorf("endpoints %+v, %v; want %+v", got, err, want)
	}
}

func TestEndpointsErrors(t *testing.T) {
	ctx := context.Background()
	st, db := parse(t, stackSrc, "/stack")
	for _, tc := range []struct {
		name string
		r    tfoutputs.Reader
		want string
	}{
		{"no terraform", nil,
			`/stack/hstack.hcl:5,14-18: database "main": its endpoints are Terraform outputs, and no Terraform is available`},
		{"no state", fakeOutputs(nil),
			`/stack/hstack.hcl:5,14-18: database "main": reading Terraform outputs in /stack/tf: no state`},
		{"missing writer", full.with("aurora_writer_endpoint", ""),
			`/stack/hstack.hcl:6,14-38: database "main": Terraform in /stack/tf has no output "aurora_writer_endpoint" (run ` + "`terraform apply`" + ` there, or fix writer)`},
		{"empty writer", full.with("aurora_writer_endpoint", `""`),
			`/stack/hstack.hcl:6,14-38: database "main": Terraform output "aurora_writer_endpoint" in /stack/tf is empty, not a host name`},
		{"list writer", full.with("aurora_writer_endpoint", `["a"]`),
			`/stack/hstack.hcl:6,14-38: database "main": Terraform output "aurora_writer_endpoint" in /stack/tf is ["a"], neither a string nor a number`},
		{"missing reader", full.with("aurora_reader_endpoint", ""),
			`/stack/hstack.hcl:7,14-38: database "main": Terraform in /stack/tf has no output "aurora_reader_endpoint" (run ` + "`terraform apply`" + ` there, or fix reader)`},
		{"empty reader", full.with("aurora_reader_endpoint", `""`),
			`/stack/hstack.hcl:7,14-38: database "main": Terraform output "aurora_reader_endpoint" in /stack/tf is empty, not a host name`},
		{"missing port", full.with("aurora_port", ""),
			`/stack/hstack.hcl:8,14-27: database "main": Terraform in /stack/tf has no output "aurora_port" (run ` + "`terraform apply`" + ` there, or fix port)`},
		{"bad port", full.with("aurora_port", `"x"`),
			`/stack/hstack.hcl:8,14-27: database "main": Terraform output "aurora_port" in /stack/tf is "x", not a port number`},
		{"port out of range", full.with("aurora_port", `70000`),
			`/stack/hstack.hcl:8,14-27: database "main": Terraform output "aurora_port" in /stack/tf is 70000, not a port number`},
		{"fractional port", full.with("aurora_port", `5432.5`),
			`/stack/hstack.hcl:8,14-27: database "main": Terraform output "aurora_port" in /stack/tf is 5432.5, not a port number`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tfoutputs.EndpointsFor(ctx, st, db, tc.r)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("endpoints %+v, err %v; want prefix %q", got, err, tc.want)
			}
			if got != (tfoutputs.Endpoints{}) {
				t.Errorf("endpoints %+v returned with an error", got)
			}
		})
	}
}

// TestTerraformMissingDir needs no terraform binary: the directory is
// checked first.
func TestTerraformMissingDir(t *testing.T) {
	dir := t.TempDir()
	st, db := parse(t, stackSrc, dir)
	_, err := tfoutputs.EndpointsFor(context.Background(), st, db, tfoutputs.Terraform{ExecPath: "/nonexistent/terraform"})
	want := filepath.Join(dir, "hstack.hcl") + `:5,14-18: database "main": reading Terraform outputs in ` + filepath.Join(dir, "tf") + ": the directory does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("err %v, want %q", err, want)
	}
	if err := os.WriteFile(filepath.Join(dir, "tf"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := (tfoutputs.Terraform{}).Outputs(context.Background(), filepath.Join(dir, "tf")); err == nil || err.Error() != "not a directory" {
		t.Errorf("a file as the working directory: %v", err)
	}
}

// TestTerraformOutputsReal applies an outputs-only configuration (no
// provider, so it works offline) and reads it back through terraform-exec.
func TestTerraformOutputsReal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform")
	}
	bin, err := tools.Find("terraform")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	dir := t.TempDir()
	tfDir := filepath.Join(dir, "tf")
	if err := os.Mkdir(tfDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tfDir, "main.tf"), []byte(`
output "aurora_writer_endpoint" { value = "main.cluster-x.eu-west-1.rds.amazonaws.com" }
output "aurora_reader_endpoint" { value = "main.cluster-ro-x.eu-west-1.rds.amazonaws.com" }
output "aurora_port" { value = 5433 }
`), 0o644); err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(tfDir, bin)
	if err != nil {
		t.Fatal(err)
	}
	// No ~/.terraformrc here; an unset config file only makes terraform warn.
	if err := tf.SetEnv(map[string]string{"TF_CLI_CONFIG_FILE": "/dev/null", "CHECKPOINT_DISABLE": "1"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := tf.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	st, db := parse(t, stackSrc, dir)
	got, err := tfoutputs.EndpointsFor(ctx, st, db, tfoutputs.Terraform{ExecPath: bin})
	if err != nil {
		t.Fatal(err)
	}
	want := tfoutputs.Endpoints{Writer: "main.cluster-x.eu-west-1.rds.amazonaws.com", Reader: "main.cluster-ro-x.eu-west-1.rds.amazonaws.com", Port: 5433}
	if got != want {
		t.Errorf("endpoints %+v, want %+v", got, want)
	}
	// The binary found like the other tools reads the same.
	if got, err := tfoutputs.EndpointsFor(ctx, st, db, tfoutputs.Terraform{}); err != nil || got != want {
		t.Errorf("with the found binary: %+v, %v", got, err)
	}
}
