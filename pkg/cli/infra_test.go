package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// infraFixture copies testdata/infra (an environment "e2e" of built-in
// terraform_data resources with local state) into a temporary directory
// and returns it; Terraform runs with an empty CLI config there.
func infraFixture(t *testing.T) string {
	t.Helper()
	if _, err := tools.Find("terraform"); err != nil {
		testenv.Missing(t, err.Error())
	}
	dst := t.TempDir()
	src := filepath.Join("testdata", "infra")
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dst, "terraformrc")
	if err := os.WriteFile(rc, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", rc)
	t.Setenv("TF_DATA_DIR", "")
	t.Setenv("CHECKPOINT_DISABLE", "1")
	return dst
}

// runInfra runs hstack with stdin in (nil: a pipe, not a terminal).
func runInfra(t *testing.T, in io.Reader, args ...string) result {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	if in == nil {
		in = strings.NewReader("yes\nyes\nyes\n")
	}
	app.Reader = in
	code := run(context.Background(), app, append([]string{"hstack"}, args...))
	t.Logf("hstack %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
	return result{code, out.String(), errOut.String()}
}

// states lists the state files the layers hold.
func states(t *testing.T, root string) []string {
	t.Helper()
	var found []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && d.Name() == "terraform.tfstate" {
			b, _ := os.ReadFile(p)
			if bytes.Contains(b, []byte(`"resources": [`)) && !bytes.Contains(b, []byte(`"resources": []`)) {
				found = append(found, p)
			}
		}
		return nil
	})
	return found
}

// terminal returns a pseudo-terminal's tty end, as hstack's stdin, with
// answer already typed into it.
func terminal(t *testing.T, answer string) *os.File {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		testenv.Missing(t, "no pseudo-terminal: "+err.Error())
	}
	t.Cleanup(func() { _ = ptmx.Close(); _ = tty.Close() })
	// The terminal echoes what is typed; drain it so the echo never fills.
	go func() { _, _ = io.Copy(io.Discard, ptmx) }()
	if _, err := ptmx.Write([]byte(answer)); err != nil {
		t.Fatal(err)
	}
	return tty
}

func TestInfraEndToEnd(t *testing.T) {
	dir := infraFixture(t)
	tfDir := filepath.Join(dir, "terraform")
	env := []string{"--terraform-dir", tfDir, "--env", "e2e"}
	args := func(cmd string, more ...string) []string {
		return append(append([]string{"infra", cmd}, env...), more...)
	}

	// Before init: a clear error, nothing run.
	if r := runInfra(t, nil, args("plan")...); r.code != ExitFailure || !strings.Contains(r.stderr, "e2e/network is not initialised: run `hstack infra init --env e2e` first") {
		t.Fatalf("plan before init: exit %d, %q", r.code, r.stderr)
	}
	if r := runInfra(t, nil, args("init")...); r.code != ExitOK || !strings.Contains(r.stdout, "==> e2e/database: terraform init") {
		t.Fatalf("init: exit %d", r.code)
	}

	// No terminal, no --auto-approve: refused before anything runs.
	r := runInfra(t, nil, args("apply")...)
	if r.code != ExitUsage || !strings.Contains(r.stderr, "refusing to apply without --auto-approve: stdin is not a terminal") || strings.Contains(r.stdout, "terraform plan") {
		t.Fatalf("apply without a terminal: exit %d, %q", r.code, r.stderr)
	}
	if s := states(t, tfDir); len(s) > 0 {
		t.Fatalf("refused apply changed state: %v", s)
	}

	// A terminal, and the operator says no: the plan is shown, nothing
	// applied.
	r = runInfra(t, terminal(t, "no\n"), args("apply")...)
	if r.code != ExitFailure || !strings.Contains(r.stdout, "terraform_data.vpc will be created") || !strings.Contains(r.stderr, "Apply the plan above to e2e/network?") || !strings.Contains(r.stderr, "not confirmed") {
		t.Fatalf("declined apply: exit %d", r.code)
	}
	if s := states(t, tfDir); len(s) > 0 {
		t.Fatalf("declined apply changed state: %v", s)
	}

	// Plan: changes (exit 2, as terraform plan -detailed-exitcode); the
	// database layer waits for the network's vpc_id.
	r = runInfra(t, nil, args("plan", "--json")...)
	if r.code != ExitInfraChanges {
		t.Fatalf("plan of a fresh environment: exit %d, want %d", r.code, ExitInfraChanges)
	}
	if want := `{"layer":"network","changes":true}
{"layer":"database","changes":true,"waits_for":["vpc_id"]}
{"layer":"outputs","changes":true,"waits_for":["aurora_master_user_secret_arn","aurora_port","aurora_reader_endpoint","aurora_writer_endpoint","vpc_id"]}
`; r.stdout != want {
		t.Errorf("plan --json:\n%s\nwant:\n%s", r.stdout, want)
	}
	if s := states(t, tfDir); len(s) > 0 {
		t.Fatalf("plan changed state: %v", s)
	}

	// Apply, confirmed on the terminal layer by layer: every layer in
	// order, each with the outputs of the ones before.
	r = runInfra(t, terminal(t, "yes\nyes\nyes\n"), args("apply")...)
	if r.code != ExitOK || strings.Count(r.stdout, "Apply complete!") != 3 || strings.Count(r.stderr, "Only 'yes' is accepted") != 3 {
		t.Fatalf("apply confirmed: exit %d", r.code)
	}
	if n := len(states(t, tfDir)); n != 2 {
		t.Errorf("%d layers hold resources after apply, want 2 (network, database)", n)
	}

	// hstack reads the outputs back, sensitive ones hidden unless named.
	r = runInfra(t, nil, args("output", "--json")...)
	var outs map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &outs); err != nil || r.code != ExitOK {
		t.Fatalf("output --json: exit %d, %v", r.code, err)
	}
	want := map[string]any{
		"vpc_id":                        "vpc-e2e",
		"aurora_writer_endpoint":        "writer.vpc-e2e.example",
		"aurora_reader_endpoint":        "reader.vpc-e2e.example",
		"aurora_port":                   float64(5432),
		"aurora_master_user_secret_arn": "<sensitive>",
		"server_ami_id":                 "ami-0123456789abcdef0",
		"client_ami_id":                 "ami-0fedcba9876543210",
	}
	for k, v := range want {
		if outs[k] != v {
			t.Errorf("output %s = %v, want %v", k, outs[k], v)
		}
	}
	if r := runInfra(t, nil, args("output", "aurora_master_user_secret_arn")...); r.stdout != "arn:aws:secretsmanager:eu-west-1:123456789012:secret:e2e\n" {
		t.Errorf("output NAME of a sensitive output: %q", r.stdout)
	}
	if r := runInfra(t, nil, args("output", "nope")...); r.code != ExitFailure || !strings.Contains(r.stderr, `environment "e2e" has no output "nope" (outputs: aurora_master_user_secret_arn, aurora_port,`) {
		t.Errorf("output of a missing name: exit %d, %q", r.code, r.stderr)
	}

	// The stack file's from_terraform_output reads the same outputs.
	stack := `
stack "shop" {}
database "main" {
  from_terraform_output {
    dir    = "terraform/envs/e2e"
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
	st, diags := stackfile.Parse([]byte(stack), filepath.Join(dir, "hstack.hcl"), stackfile.LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	eps, err := tfoutputs.EndpointsFor(context.Background(), st, st.Databases[0], tfoutputs.Terraform{})
	if wantEps := (tfoutputs.Endpoints{Writer: "writer.vpc-e2e.example", Reader: "reader.vpc-e2e.example", Port: 5432}); err != nil || eps != wantEps {
		t.Errorf("from_terraform_output: %+v, %v; want %+v", eps, err, wantEps)
	}

	// A second plan: nothing to do, exit 0.
	r = runInfra(t, nil, args("plan")...)
	if r.code != ExitOK {
		t.Errorf("second plan: exit %d, want 0", r.code)
	}
	for _, l := range []string{"network", "database", "outputs"} {
		if !strings.Contains(r.stdout, "\ne2e/"+l+": no changes\n") {
			t.Errorf("second plan: no line %q", "e2e/"+l+": no changes")
		}
	}

	// A new image (hstack image build rewrote images.auto.tfvars.json):
	// the environment has changes again.
	if err := os.WriteFile(filepath.Join(tfDir, "envs", "e2e", "images.auto.tfvars.json"),
		[]byte(`{"server_ami_id": "ami-0aaaaaaaaaaaaaaaa", "client_ami_id": "ami-0fedcba9876543210"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runInfra(t, nil, args("plan", "--json")...); r.code != ExitInfraChanges || !strings.Contains(r.stdout, `{"layer":"outputs","changes":true}`) {
		t.Errorf("plan after a new AMI: exit %d, %s", r.code, r.stdout)
	}
	// Applied without asking (CI): only the changed layer changes.
	r = runInfra(t, nil, args("apply", "--auto-approve")...)
	if r.code != ExitOK || strings.Count(r.stdout, "Apply complete!") != 1 {
		t.Errorf("apply --auto-approve: exit %d", r.code)
	}
	if r := runInfra(t, nil, args("output", "server_ami_id")...); r.stdout != "ami-0aaaaaaaaaaaaaaaa\n" {
		t.Errorf("server_ami_id after the new image: %q", r.stdout)
	}

	// Destroy: refused without a terminal, declined with a wrong name,
	// done when the environment's name is typed.
	if r := runInfra(t, nil, args("destroy")...); r.code != ExitUsage || !strings.Contains(r.stderr, "refusing to destroy without --auto-approve") {
		t.Errorf("destroy without a terminal: exit %d, %q", r.code, r.stderr)
	}
	r = runInfra(t, terminal(t, "prod\n"), args("destroy")...)
	if r.code != ExitFailure || !strings.Contains(r.stderr, `Destroy every resource of environment "e2e" (layers outputs, database, network)? Type the environment's name to confirm:`) {
		t.Errorf("destroy with the wrong name: exit %d, %q", r.code, r.stderr)
	}
	if n := len(states(t, tfDir)); n != 2 {
		t.Fatalf("declined destroy: %d layers hold resources, want 2", n)
	}
	if r := runInfra(t, terminal(t, "e2e\n"), args("destroy")...); r.code != ExitOK || strings.Count(r.stdout, "Destroy complete!") != 3 {
		t.Errorf("destroy: exit %d", r.code)
	}
	if s := states(t, tfDir); len(s) > 0 {
		t.Errorf("after destroy, state still holds resources: %v", s)
	}
	// Destroying what is gone: every layer has nothing to destroy.
	if r := runInfra(t, nil, args("destroy", "--auto-approve")...); r.code != ExitOK || strings.Count(r.stdout, "nothing to destroy") != 3 {
		t.Errorf("second destroy: exit %d", r.code)
	}
}

func TestInfraErrors(t *testing.T) {
	dir := infraFixture(t)
	tfDir := filepath.Join(dir, "terraform")
	if r := runInfra(t, nil, "infra", "plan", "--terraform-dir", tfDir, "--env", "staging"); r.code != ExitUsage ||
		!strings.Contains(r.stderr, `--env: environment "staging": no directory `+filepath.Join(tfDir, "envs", "staging")+` (environments: e2e)`) {
		t.Errorf("unknown env: exit %d, %q", r.code, r.stderr)
	}
	if r := runInfra(t, nil, "infra", "plan", "--terraform-dir", tfDir); r.code != ExitUsage || !strings.Contains(r.stderr, `Required flag "env" not set`) {
		t.Errorf("no --env: exit %d, %q", r.code, r.stderr)
	}
	if err := os.Remove(filepath.Join(tfDir, "envs", "e2e", "backend.hcl")); err != nil {
		t.Fatal(err)
	}
	if r := runInfra(t, nil, "infra", "init", "--terraform-dir", tfDir, "--env", "e2e"); r.code != ExitFailure ||
		!strings.Contains(r.stderr, "backend configuration "+filepath.Join(tfDir, "envs", "e2e", "backend.hcl")+" is missing: write it from `terraform -chdir=terraform/bootstrap output -raw backend_config`") {
		t.Errorf("no backend.hcl: exit %d, %q", r.code, r.stderr)
	}
	t.Setenv("HSTACK_TERRAFORM_BIN", filepath.Join(dir, "no-terraform"))
	t.Setenv("PATH", dir)
	if r := runInfra(t, nil, "infra", "plan", "--terraform-dir", tfDir, "--env", "e2e"); r.code != ExitFailure {
		t.Errorf("no terraform binary: exit %d, %q", r.code, r.stderr)
	}
}
