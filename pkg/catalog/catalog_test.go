package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	consulapi "github.com/hashicorp/consul/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

func parse(t *testing.T, src string) *stackfile.Stack {
	t.Helper()
	st, diags := stackfile.Parse([]byte(src), "/srv/hstack/hstack.hcl", stackfile.LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return st
}

const appBlock = `
app "web" {
  driver  = "raw_exec"
  command = "/bin/true"
  port "http" {}
}
`

// fakeTerraform stands in for `terraform output` in unit tests: there is no
// Terraform state offline (pkg/tfoutputs' TestTerraformOutputsReal makes
// one).
type fakeTerraform struct {
	outputs map[string]string // name -> JSON value
	err     error
	dirs    []string
}

func (f *fakeTerraform) Outputs(_ context.Context, dir string) (map[string]json.RawMessage, error) {
	f.dirs = append(f.dirs, dir)
	if f.err != nil {
		return nil, f.err
	}
	m := map[string]json.RawMessage{}
	for k, v := range f.outputs {
		m[k] = json.RawMessage(v)
	}
	return m, nil
}

func TestDesiredFromAddress(t *testing.T) {
	st := parse(t, `
stack "shop" {}
database "main" {
  address = "127.0.0.1"
  port    = 15432
}
`+appBlock)
	got, err := Desired(context.Background(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{{ID: "hstack-shop-main", Name: "main", Address: "127.0.0.1", Port: 15432,
		Tags: []string{"postgresql", "writer"}, Database: "main", Endpoint: Writer}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Desired (-want +got):\n%s", d)
	}
}

const terraformStack = `
stack "shop" {}
database "main" {
  from_terraform_output {
    dir    = "terraform/envs/prod"
    writer = "aurora_writer_endpoint"
    reader = "aurora_reader_endpoint"
    port   = "aurora_port"
  }
}
` + appBlock

func TestDesiredFromTerraform(t *testing.T) {
	st := parse(t, terraformStack)
	tf := &fakeTerraform{outputs: map[string]string{
		"aurora_writer_endpoint": `"shop.cluster-abc.us-east-1.rds.amazonaws.com"`,
		"aurora_reader_endpoint": `"shop.cluster-ro-abc.us-east-1.rds.amazonaws.com"`,
		"aurora_port":            `5433`,
		"unrelated":              `{"a": 1}`,
	}}
	got, err := Desired(context.Background(), st, tf)
	if err != nil {
		t.Fatal(err)
	}
	want := []Service{
		{ID: "hstack-shop-main", Name: "main", Address: "shop.cluster-abc.us-east-1.rds.amazonaws.com", Port: 5433,
			Tags: []string{"postgresql", "writer"}, Database: "main", Endpoint: Writer},
		{ID: "hstack-shop-main-reader", Name: "main-reader", Address: "shop.cluster-ro-abc.us-east-1.rds.amazonaws.com", Port: 5433,
			Tags: []string{"postgresql", "reader"}, Database: "main", Endpoint: Reader},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Desired (-want +got):\n%s", d)
	}
	if len(tf.dirs) != 1 || tf.dirs[0] != "/srv/hstack/terraform/envs/prod" {
		t.Errorf("outputs read from %v, want the dir relative to the stack file", tf.dirs)
	}
}

func TestDesiredTerraformErrors(t *testing.T) {
	st := parse(t, terraformStack)
	full := map[string]string{
		"aurora_writer_endpoint": `"w.example"`,
		"aurora_reader_endpoint": `"r.example"`,
		"aurora_port":            `"5432"`,
	}
	without := func(k string) map[string]string {
		m := map[string]string{}
		for kk, v := range full {
			if kk != k {
				m[kk] = v
			}
		}
		return m
	}
	with := func(k, v string) map[string]string {
		m := without(k)
		m[k] = v
		return m
	}
	for _, tc := range []struct {
		name string
		tf   tfoutputs.Reader
		want string
	}{
		{"no terraform", nil, "no Terraform is available"},
		{"terraform fails", &fakeTerraform{err: errors.New("state locked")}, "state locked"},
		{"no writer", &fakeTerraform{outputs: without("aurora_writer_endpoint")}, `no output "aurora_writer_endpoint"`},
		{"empty writer", &fakeTerraform{outputs: with("aurora_writer_endpoint", `""`)}, "is empty"},
		{"no reader", &fakeTerraform{outputs: without("aurora_reader_endpoint")}, `no output "aurora_reader_endpoint"`},
		{"bad port", &fakeTerraform{outputs: with("aurora_port", `"http"`)}, "not a port"},
		{"list output", &fakeTerraform{outputs: with("aurora_writer_endpoint", `["a"]`)}, "neither a string nor a number"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Desired(context.Background(), st, tc.tf)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "/srv/hstack/hstack.hcl:") {
				t.Errorf("err = %v, want it to start with the stack file position", err)
			}
			if errors.Is(err, ErrInvalid) {
				t.Errorf("a Terraform problem is reported as an invalid stack file: %v", err)
			}
		})
	}
	if got, err := Desired(context.Background(), st, &fakeTerraform{outputs: without("aurora_port")}); err == nil {
		t.Errorf("a declared but missing port output was accepted: %+v", got)
	}

	// No port output declared: PostgreSQL's standard port.
	noPort := parse(t, strings.Replace(terraformStack, `port   = "aurora_port"`, "", 1))
	got, err := Desired(context.Background(), noPort, &fakeTerraform{outputs: without("aurora_port")})
	if err != nil || len(got) != 2 || got[0].Port != 5432 || got[1].Port != 5432 {
		t.Errorf("without a port output: %+v, %v; want port 5432", got, err)
	}
}

func TestDesiredRejectsNonDNSName(t *testing.T) {
	st := parse(t, `
stack "shop" {}
database "main_db" {
  address = "10.0.0.5"
}
`+appBlock)
	_, err := Desired(context.Background(), st, nil)
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "main_db") {
		t.Errorf("err = %v, want ErrInvalid naming the database", err)
	}
}

func TestRegistrationSpec(t *testing.T) {
	s := Service{ID: "hstack-shop-main", Name: "main", Address: "127.0.0.1", Port: 5432, Tags: []string{"postgresql", "writer"}, Database: "main", Endpoint: Writer}
	r := registration("shop", s)
	if r.Check == nil || r.Check.TCP != "127.0.0.1:5432" || r.Check.Interval != "10s" {
		t.Errorf("check = %+v, want TCP on the endpoint every 10s", r.Check)
	}
	for k, v := range map[string]string{MetaManagedBy: ManagedBy, MetaStack: "shop", MetaDatabase: "main", MetaEndpoint: Writer} {
		if r.Meta[k] != v {
			t.Errorf("meta %s = %q, want %q", k, r.Meta[k], v)
		}
	}
	if registration("shop", s).Meta[MetaSpec] != r.Meta[MetaSpec] {
		t.Error("the spec digest is not deterministic")
	}
	moved := s
	moved.Address = "127.0.0.2"
	if registration("shop", moved).Meta[MetaSpec] == r.Meta[MetaSpec] {
		t.Error("a new address does not change the spec digest, so sync would never update it")
	}
	v6 := s
	v6.Address = "::1"
	if got := registration("shop", v6).Check.TCP; got != "[::1]:5432" {
		t.Errorf("IPv6 check target = %q", got)
	}
}

func TestInstanceFromEntry(t *testing.T) {
	e := &consulapi.ServiceEntry{
		Node: &consulapi.Node{Node: "client-1", Address: "10.0.0.7"},
		Service: &consulapi.AgentService{
			ID:      "_nomad-task-0b6fd4d6-13c4-3ac5-6a31-cd7bb71b5a21-group-pingapp-pingapp-http",
			Service: "pingapp", Port: 25000,
			Tags: []string{"web", "canary"},
			Meta: map[string]string{"canary": "true", "version": "2.0.0"},
		},
		Checks: consulapi.HealthChecks{
			{Name: "Serf Health Status", Status: consulapi.HealthPassing},
			{Name: "pingapp health", Status: consulapi.HealthWarning, Output: "HTTP GET ...: 429 body"},
		},
	}
	in := instance(e)
	if in.AllocID != "0b6fd4d6-13c4-3ac5-6a31-cd7bb71b5a21" || !in.Canary || in.External {
		t.Errorf("instance = %+v", in)
	}
	if in.Address != "10.0.0.7" {
		t.Errorf("address = %q, want the node's when the service has none", in.Address)
	}
	if in.Health != consulapi.HealthWarning {
		t.Errorf("health = %q, want the worst check's", in.Health)
	}
	b, _ := json.Marshal(in)
	if strings.Contains(string(b), "429 body") {
		t.Errorf("check output leaked into the listing: %s", b)
	}
}
