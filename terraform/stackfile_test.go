package terraform

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"

	"github.com/hstack-dev/hstack/pkg/cli"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

// hstack.hcl's databases that take their endpoints from Terraform name
// outputs the environment's outputs root declares.
func TestStackFileTerraformOutputsExist(t *testing.T) {
	repo := filepath.Dir(srcDir(t))
	checked := 0
	for _, env := range []string{"prod", "dev"} {
		st, diags := stackfile.Load(filepath.Join(repo, stackfile.DefaultFile), stackfile.LoadOptions{Env: env, Getenv: func(string) string { return "" }})
		if diags.HasErrors() {
			if env == "dev" {
				continue // hstack.hcl may declare no dev environment
			}
			t.Fatal(diags.Error())
		}
		for _, db := range st.Databases {
			tf := db.FromTerraform
			if tf == nil {
				continue
			}
			dir := st.Path(tf.Dir)
			mod, d := tfconfig.LoadModule(dir)
			if d.HasErrors() {
				t.Fatalf("%s: %v", dir, d.Err())
			}
			for attr, name := range map[string]string{"writer": tf.Writer, "reader": tf.Reader, "port": tf.Port} {
				if name == "" {
					continue
				}
				checked++
				if _, ok := mod.Outputs[name]; !ok {
					t.Errorf("%s: database %q: %s names output %q, which %s does not declare",
						tf.Attrs.Of(attr, tf.DeclRange), db.Name, attr, name, dir)
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("hstack.hcl has no database with from_terraform_output in prod")
	}
}

// The outputs hstack's day-2 commands and deliver.yml read by name are
// declared by every environment's outputs root: the cluster jobs of
// `render --terraform-outputs` (pkg/tfoutputs.OpsFrom), `hstack db
// snapshot`'s cluster, and deliver.yml's ECR repository and OIDC role.
func TestDay2OutputsExist(t *testing.T) {
	names := []string{
		tfoutputs.OutputSnapshotBucket, tfoutputs.OutputClientASGName, tfoutputs.OutputClientASGMin,
		tfoutputs.OutputClientASGMax, tfoutputs.OutputRegion, cli.AuroraClusterIDOutput,
		"ecr_repository_name", "deliver_role_arn",
	}
	for _, env := range []string{"dev", "prod"} {
		dir := filepath.Join(srcDir(t), "envs", env)
		mod, d := tfconfig.LoadModule(dir)
		if d.HasErrors() {
			t.Fatalf("%s: %v", dir, d.Err())
		}
		for _, name := range names {
			if _, ok := mod.Outputs[name]; !ok {
				t.Errorf("terraform/envs/%s declares no output %q", env, name)
			}
		}
	}
}
