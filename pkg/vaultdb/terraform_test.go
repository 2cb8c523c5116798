package vaultdb_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tools"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

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

func tfDatabase(port string) (*stackfile.Stack, *stackfile.Database) {
	rng := func(line int) hcl.Range {
		return hcl.Range{Filename: "hstack.hcl", Start: hcl.Pos{Line: line, Column: 5}, End: hcl.Pos{Line: line, Column: 20}}
	}
	db := &stackfile.Database{Name: "main", DatabaseName: "postgres", VaultMount: "database",
		FromTerraform: &stackfile.TerraformOutputs{Dir: "tf", Writer: "aurora_writer_endpoint", Port: port,
			Attrs: stackfile.Ranges{"dir": rng(10), "writer": rng(11), "port": rng(12)}, DeclRange: rng(9)}}
	return &stackfile.Stack{Dir: "/stack", Databases: []*stackfile.Database{db}}, db
}

func TestEndpointFromTerraformOutputs(t *testing.T) {
	ctx := context.Background()
	st, db := tfDatabase("aurora_port")
	for _, tc := range []struct {
		name string
		outs fakeOutputs
		want string
		err  string
	}{
		{"number port", fakeOutputs{"aurora_writer_endpoint": `"w.example"`, "aurora_port": `5433`}, "w.example:5433", ""},
		{"string port", fakeOutputs{"aurora_writer_endpoint": `"w.example"`, "aurora_port": `"6432"`}, "w.example:6432", ""},
		{"missing writer", fakeOutputs{"aurora_port": `5433`}, "", `hstack.hcl:11,5-20: database "main": Terraform in /stack/tf has no output "aurora_writer_endpoint"`},
		{"bad port", fakeOutputs{"aurora_writer_endpoint": `"w"`, "aurora_port": `"x"`}, "", `hstack.hcl:12,5-20: database "main": output "aurora_port" is "x", not a port number`},
		{"no state", nil, "", `hstack.hcl:10,5-20: database "main": no state`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep, err := vaultdb.EndpointFor(ctx, st, db, tc.outs)
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.err) {
					t.Fatalf("err %v, want prefix %q", err, tc.err)
				}
				return
			}
			if err != nil || ep.String() != tc.want {
				t.Fatalf("endpoint %v, %v; want %s", ep, err, tc.want)
			}
		})
	}
	st, db = tfDatabase("")
	ep, err := vaultdb.EndpointFor(ctx, st, db, fakeOutputs{"aurora_writer_endpoint": `"w"`})
	if err != nil || ep.Port != 5432 {
		t.Errorf("no port output: %v, %v", ep, err)
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
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	tfDir := filepath.Join(dir, "tf")
	os.Mkdir(tfDir, 0o755)
	os.WriteFile(filepath.Join(tfDir, "main.tf"), []byte(`
output "aurora_writer_endpoint" { value = "main.cluster-x.eu-west-1.rds.amazonaws.com" }
output "aurora_port" { value = 5433 }
`), 0o644)
	tf, err := tfexec.NewTerraform(tfDir, bin)
	if err != nil {
		t.Fatal(err)
	}
	// No ~/.terraformrc here; an unset config file only makes terraform warn.
	tf.SetEnv(map[string]string{"TF_CLI_CONFIG_FILE": "/dev/null", "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1"})
	ctx := context.Background()
	if err := tf.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tf.Apply(ctx); err != nil {
		t.Fatal(err)
	}
	st, db := tfDatabase("aurora_port")
	st.Dir = dir
	ep, err := vaultdb.EndpointFor(ctx, st, db, vaultdb.Terraform{ExecPath: bin})
	if err != nil {
		t.Fatal(err)
	}
	if ep.String() != "main.cluster-x.eu-west-1.rds.amazonaws.com:5433" {
		t.Errorf("endpoint %s", ep)
	}
}
