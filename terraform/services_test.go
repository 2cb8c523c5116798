package terraform

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
	tfjson "github.com/hashicorp/terraform-json"
)

const awsProviderAddr = "registry.terraform.io/hashicorp/aws"

var (
	schemaOnce sync.Once
	schemaAWS  *tfjson.ProviderSchema
	schemaErr  error
)

// awsSchema is the schema the built AWS provider serves (`terraform
// providers schema -json`): only the resource types of the service packages
// in pkg/tools/aws-provider-services.txt.
func awsSchema(t *testing.T) *tfjson.ProviderSchema {
	t.Helper()
	bin, mirror := terraformBin(t), awsMirror(t)
	schemaOnce.Do(func() {
		dir, err := os.MkdirTemp("", "hstack-aws-schema-")
		if err != nil {
			schemaErr = err
			return
		}
		defer os.RemoveAll(dir)
		src := `terraform {
  required_providers {
    aws = { source = "hashicorp/aws" }
  }
}
`
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
			schemaErr = err
			return
		}
		env := tfEnv(mirror, filepath.Join(dir, ".data"))
		if out, err := tf(t, bin, env, dir, "init", "-input=false", "-no-color"); err != nil {
			schemaErr = fmt.Errorf("terraform init: %v\n%s", err, out)
			return
		}
		out, err := tf(t, bin, env, dir, "providers", "schema", "-json")
		if err != nil {
			schemaErr = fmt.Errorf("terraform providers schema: %v\n%s", err, out)
			return
		}
		var s tfjson.ProviderSchemas
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			schemaErr = fmt.Errorf("terraform providers schema: %v", err)
			return
		}
		if schemaAWS = s.Schemas[awsProviderAddr]; schemaAWS == nil {
			schemaErr = fmt.Errorf("no %s in the providers schema", awsProviderAddr)
		}
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	return schemaAWS
}

// unserved names every aws_* resource and data source in the modules under
// base whose type the provider schema lacks (its service package is not
// built), each with its file and line.
func unserved(base string, dirs []string, schema *tfjson.ProviderSchema) ([]string, error) {
	var out []string
	for _, rel := range dirs {
		mod, diags := tfconfig.LoadModule(filepath.Join(base, rel))
		if diags.HasErrors() {
			return nil, diags.Err()
		}
		check := func(kind string, rs map[string]*tfconfig.Resource, known map[string]*tfjson.Schema) {
			for _, r := range rs {
				if !strings.HasPrefix(r.Type, "aws_") {
					continue
				}
				if _, ok := known[r.Type]; !ok {
					file, _ := filepath.Rel(filepath.Dir(base), r.Pos.Filename)
					out = append(out, fmt.Sprintf("%s:%d: %s %q: the built AWS provider does not serve it; add its service package to pkg/tools/aws-provider-services.txt",
						filepath.ToSlash(file), r.Pos.Line, kind, r.Type))
				}
			}
		}
		check("resource", mod.ManagedResources, schema.ResourceSchemas)
		check("data source", mod.DataResources, schema.DataSourceSchemas)
	}
	sort.Strings(out)
	return out, nil
}

// The service list follows the modules: every AWS resource and data source
// they use is served by the provider scripts/tools.sh builds from it.
func TestServicesListCoversModules(t *testing.T) {
	schema := awsSchema(t)
	missing, err := unserved(srcDir(t), roots(t), schema)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range missing {
		t.Error(m)
	}
}

// The check itself: a module using a resource of a service left out of the
// build (EKS) is named with its file and line.
func TestServicesCheckNamesAnUnservedResource(t *testing.T) {
	schema := awsSchema(t)
	base := filepath.Join(t.TempDir(), "terraform")
	mod := filepath.Join(base, "modules", "k8s")
	if err := os.MkdirAll(mod, 0o755); err != nil {
		t.Fatal(err)
	}
	src := `resource "aws_vpc" "ok" {
  cidr_block = "10.0.0.0/16"
}

resource "aws_eks_cluster" "this" {
  name     = "x"
  role_arn = "arn"
}

data "aws_eks_cluster_auth" "this" {
  name = "x"
}
`
	if err := os.WriteFile(filepath.Join(mod, "main.tf"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := unserved(base, []string{"modules/k8s"}, schema)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`terraform/modules/k8s/main.tf:10: data source "aws_eks_cluster_auth": the built AWS provider does not serve it; add its service package to pkg/tools/aws-provider-services.txt`,
		`terraform/modules/k8s/main.tf:5: resource "aws_eks_cluster": the built AWS provider does not serve it; add its service package to pkg/tools/aws-provider-services.txt`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unserved:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
