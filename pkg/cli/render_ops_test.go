package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/tools"
)

func TestWithOps(t *testing.T) {
	base := render.Options{Version: "1.2.3"}
	got := withOps(base, tfoutputs.Ops{SnapshotBucket: "b", ClientASGName: "g", ClientMin: 3, ClientMax: 20, Region: "eu-west-1"})
	want := render.Options{Version: "1.2.3", SnapshotBucket: "b", ClientFleet: &render.ClientFleet{ASGName: "g", Min: 3, Max: 20, Region: "eu-west-1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// Outputs the directory lacks leave their jobs out.
	if got := withOps(base, tfoutputs.Ops{}); got.ClientFleet != nil || got.SnapshotBucket != "" {
		t.Errorf("no outputs: %+v", got)
	}
	if got := withOps(base, tfoutputs.Ops{SnapshotBucket: "b"}); got.ClientFleet != nil || got.SnapshotBucket != "b" {
		t.Errorf("bucket only: %+v", got)
	}
}

// applyOutputs writes a Terraform root that has only the given outputs
// (HCL expressions) and applies it with the real terraform, local state:
// what `terraform output` then reads is what an environment's outputs
// root gives after `hstack infra apply`.
func applyOutputs(t *testing.T, outputs map[string]string) string {
	t.Helper()
	bin, err := tools.Find("terraform")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	dir := t.TempDir()
	var src strings.Builder
	for name, expr := range outputs {
		src.WriteString("output \"" + name + "\" {\n  value = " + expr + "\n}\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(t.TempDir(), "terraformrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	t.Setenv("TF_DATA_DIR", "")
	t.Setenv("CHECKPOINT_DISABLE", "1")
	for _, args := range [][]string{{"init", "-input=false", "-no-color"}, {"apply", "-auto-approve", "-input=false", "-no-color"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s: %v\n%s", args[0], err, out)
		}
	}
	return dir
}

// TestRenderFromTerraformOutputs: `render --env prod --terraform-outputs
// DIR` reads the client fleet and the snapshot bucket from real Terraform
// state and renders the aws-asg cluster policy and the snapshot job with
// them; bad outputs are refused with exit 2 and nothing is written.
func TestRenderFromTerraformOutputs(t *testing.T) {
	isolateStackEnv(t)
	dir := applyOutputs(t, map[string]string{
		"snapshot_bucket":     `"hstack-prod-snapshots-123456789012"`,
		"client_asg_name":     `"hstack-prod-client"`,
		"client_asg_min_size": `3`,
		"client_asg_max_size": `20`,
		"aws_region":          `"eu-west-1"`,
		"vpc_id":              `"vpc-0123456789abcdef0"`,
	})
	out := t.TempDir()
	r := runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", out, "--terraform-outputs", dir)
	if r.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}

	st, diags := stackfile.Load(example, stackfile.LoadOptions{Env: "prod"})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	jobs, err := render.Render(st, render.Options{
		SnapshotBucket: "hstack-prod-snapshots-123456789012",
		ClientFleet:    &render.ClientFleet{ASGName: "hstack-prod-client", Min: 3, Max: 20, Region: "eu-west-1"},
	})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, j := range jobs {
		got, err := os.ReadFile(filepath.Join(out, "prod", j.File))
		if err != nil {
			t.Fatal(err)
		}
		files[j.Name] = string(got)
		if diff := cmp.Diff(string(j.HCL), string(got)); diff != "" {
			t.Errorf("%s differs from render.Render with the outputs (-want +got):\n%s", j.File, diff)
		}
	}
	snap, ok := files[render.SnapshotJobName]
	if !ok || !strings.Contains(snap, "s3://hstack-prod-snapshots-123456789012/"+st.Name) {
		t.Errorf("the snapshot job does not upload to the bucket from Terraform:\n%s", snap)
	}
	as := files[render.AutoscalerJobName]
	for _, want := range []string{"hstack-prod-client", "min     = 3", "max     = 20", "eu-west-1", "aws-asg"} {
		if !strings.Contains(as, want) {
			t.Errorf("the autoscaler job lacks %q (from Terraform):\n%s", want, as)
		}
	}

	// Without the flag, the same stack renders neither: prod renders stay
	// reproducible without a Terraform state.
	plain := t.TempDir()
	if r := runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", plain); r.code != ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(plain, "prod", render.SnapshotJobName+render.Extension)); err == nil {
		t.Error("a snapshot job without --terraform-outputs")
	}

	// A fleet without its region, and a directory without state: exit 2,
	// naming the flag and what is wrong, nothing written.
	noRegion := applyOutputs(t, map[string]string{"client_asg_name": `"g"`, "client_asg_min_size": `1`, "client_asg_max_size": `2`})
	for _, c := range []struct{ dir, want string }{
		{noRegion, `no output "aws_region"`},
		{filepath.Join(t.TempDir(), "missing"), "does not exist"},
	} {
		bad := t.TempDir()
		r := runApp(t, nil, "render", "-f", example, "--env", "prod", "-o", bad, "--terraform-outputs", c.dir)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "--terraform-outputs") || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s: exit %d, want %d with %q; stderr:\n%s", c.dir, r.code, ExitUsage, c.want, r.stderr)
		}
		if got := readDir(t, bad); len(got) != 0 {
			t.Errorf("%s: wrote %v", c.dir, got)
		}
	}
}
