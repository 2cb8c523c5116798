package infra

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func write(t *testing.T, path, src string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestOpenFindsLayersInOrder(t *testing.T) {
	tf := t.TempDir()
	env := filepath.Join(tf, "envs", "prod")
	write(t, filepath.Join(env, "database", "main.tf"), `variable "vpc_id" { type = string }`)
	write(t, filepath.Join(env, "network", "main.tf"), `output "vpc_id" { value = "v" }`)
	write(t, filepath.Join(env, "cluster", "main.tf"), `
variable "zone_name" { type = string }
variable "server_ami_id" { type = string }
variable "count_default" {
  type    = number
  default = 3
}`)
	write(t, filepath.Join(env, "cluster", "terraform.tfvars"), `zone_name = "example.com"`)
	write(t, filepath.Join(env, "main.tf"), `variable "vpc_id" { type = string }`)
	write(t, filepath.Join(env, "tests", "x.tftest.hcl"), `run "x" {}`)

	e, err := Open(tf, "prod")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range e.Layers {
		names = append(names, l.Name)
	}
	if want := []string{"network", "cluster", "database", "outputs"}; !reflect.DeepEqual(names, want) {
		t.Errorf("layers %v, want %v", names, want)
	}
	// zone_name is set by the layer's own terraform.tfvars: not required
	// from hstack; a variable with a default never is.
	if got, want := e.Layers[1].Variables, map[string]bool{"zone_name": false, "server_ami_id": true, "count_default": false}; !reflect.DeepEqual(got, want) {
		t.Errorf("cluster variables %v, want %v", got, want)
	}

	write(t, filepath.Join(env, "monitoring", "main.tf"), `# not a layer`)
	if _, err := Open(tf, "prod"); err == nil || !strings.Contains(err.Error(), "monitoring holds Terraform, but hstack only runs the layers network, cluster, database") {
		t.Errorf("unknown layer directory: %v", err)
	}
	if _, err := Open(tf, "../prod"); err == nil {
		t.Error("an environment name with a slash is accepted")
	}
	if _, err := Open(tf, "dev"); err == nil || !strings.Contains(err.Error(), "(environments: prod)") {
		t.Errorf("missing environment: %v", err)
	}
}

func TestInputs(t *testing.T) {
	l := Layer{Name: "cluster", Variables: map[string]bool{"vpc_id": true, "server_ami_id": true, "zone_name": false, "tags": false}}
	values := map[string]json.RawMessage{
		"vpc_id":     json.RawMessage(`"vpc-1"`),
		"tags":       json.RawMessage(`{"a":"b"}`),
		"unrelated":  json.RawMessage(`1`),
		"aurora_sth": json.RawMessage(`"x"`),
	}
	in, missing := Inputs(l, values)
	if want := map[string]json.RawMessage{"vpc_id": json.RawMessage(`"vpc-1"`), "tags": json.RawMessage(`{"a":"b"}`)}; !reflect.DeepEqual(in, want) {
		t.Errorf("inputs %s, want only the declared ones", in)
	}
	if !reflect.DeepEqual(missing, []string{"server_ami_id"}) {
		t.Errorf("missing %v", missing)
	}
}

func TestVarFiles(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "images.auto.tfvars.json"), `{"server_ami_id": "ami-1", "client_ami_id": "ami-2"}`)
	write(t, filepath.Join(dir, "z.tfvars.json"), `{"client_ami_id": "ami-3"}`)
	e := &Env{Name: "x", Dir: dir}
	got, err := e.VarFiles()
	if err != nil {
		t.Fatal(err)
	}
	if string(got["server_ami_id"]) != `"ami-1"` || string(got["client_ami_id"]) != `"ami-3"` {
		t.Errorf("var files %s", got)
	}
	write(t, filepath.Join(dir, "images.auto.tfvars.json"), `{`)
	if _, err := e.VarFiles(); err == nil || !strings.Contains(err.Error(), "images.auto.tfvars.json") {
		t.Errorf("a broken var file: %v", err)
	}
}
