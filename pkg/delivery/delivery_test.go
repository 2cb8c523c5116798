package delivery

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := devstacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func need(t *testing.T, name string) string {
	t.Helper()
	bin, err := tools.Find(name)
	if err != nil {
		testenv.Missing(t, "needs "+err.Error())
	}
	return bin
}

// TestWorkflowsPassActionlint runs actionlint, which checks the workflow
// schema, expressions, job needs and outputs, action inputs and (with
// shellcheck on PATH) every run: script.
func TestWorkflowsPassActionlint(t *testing.T) {
	bin := need(t, "actionlint")
	r := root(t)
	files, _ := filepath.Glob(filepath.Join(r, ".github", "workflows", "*.yml"))
	if len(files) < 3 {
		t.Fatalf("workflows: %v", files)
	}
	args := []string{"-no-color"}
	if _, err := exec.LookPath("shellcheck"); err != nil {
		testenv.Missing(t, "actionlint checks run: scripts with shellcheck, which is not on PATH")
	}
	cmd := exec.Command(bin, append(args, files...)...)
	cmd.Dir = r
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("actionlint: %v\n%s", err, out)
	}
	// And it does find a broken workflow: the check is not a no-op.
	bad := filepath.Join(t.TempDir(), ".github", "workflows")
	if err := os.MkdirAll(bad, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bad, "bad.yml"), []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    needs: nosuch\n    steps:\n      - run: echo ${{ inputs.nope }}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(bin, "-no-color", filepath.Join(bad, "bad.yml"))
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "nosuch") {
		t.Errorf("actionlint accepted a broken workflow: %v\n%s", err, out)
	}
}

// TestDeliverIsReusableAndGated checks what actionlint cannot: the contract
// the issue asks of the pipeline.
func TestDeliverIsReusableAndGated(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), ".github", "workflows", "deliver.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"workflow_call:",
		"id-token: write",
		"aws-actions/configure-aws-credentials",
		"role-to-assume:",
		"aquasecurity/trivy-action",
		"severity: HIGH,CRITICAL",
		`exit-code: "1"`,
		"hstack deploy --env staging --json",
		"hstack deploy --env prod",
		"needs: [image, staging]",
		"hstack promote",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("deliver.yml lacks %q", want)
		}
	}
	for _, never := range []string{"aws-access-key-id", "AWS_SECRET_ACCESS_KEY"} {
		if strings.Contains(s, never) {
			t.Errorf("deliver.yml uses long-lived AWS keys (%s)", never)
		}
	}
}

// TestGoReleaserCheck has GoReleaser validate .goreleaser.yaml.
func TestGoReleaserCheck(t *testing.T) {
	bin := need(t, "goreleaser")
	cmd := exec.Command(bin, "check")
	cmd.Dir = root(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("goreleaser check: %v\n%s", err, out)
	}
}

// TestDockerfileIsHardened: no Docker engine here to build it, so the
// contract is read from the file.
func TestDockerfileIsHardened(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var from []string
	var user string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch strings.ToUpper(f[0]) {
		case "FROM":
			from = append(from, f[1])
		case "USER":
			user = f[1]
		case "HEALTHCHECK":
			t.Error("the image has a HEALTHCHECK: Nomad's Consul checks own health")
		}
	}
	if len(from) < 2 {
		t.Errorf("not multi-stage: FROM %v", from)
	}
	if last := from[len(from)-1]; !strings.HasPrefix(last, "gcr.io/distroless/static") && last != "scratch" {
		t.Errorf("final stage %s: want distroless static or scratch", last)
	}
	if user == "" || strings.HasPrefix(user, "0") || user == "root" {
		t.Errorf("USER %q: want a non-root uid", user)
	}
	if !strings.Contains(string(b), "CGO_ENABLED=0") {
		t.Error("the binary is not built static (CGO_ENABLED=0)")
	}
}
