package cli

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// imageProject is a project directory for hstack image build with the
// offline test template (Packer's file source, shell-local, manifest) and
// an existing tfvars file holding another role's AMI id.
func imageProject(t *testing.T) (dir, template string) {
	t.Helper()
	if _, err := tools.Find("packer"); err != nil {
		testenv.Missing(t, err.Error())
	}
	template, err := filepath.Abs("../image/testdata/template")
	if err != nil {
		t.Fatal(err)
	}
	dir = t.TempDir()
	t.Chdir(dir)
	t.Setenv("PACKER_CONFIG_DIR", t.TempDir())
	t.Setenv("PACKER_PLUGIN_PATH", t.TempDir())
	vars := filepath.Join(dir, "terraform", "envs", "dev", "images.auto.tfvars.json")
	if err := os.MkdirAll(filepath.Dir(vars), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(vars, []byte(`{"client_ami_id": "ami-client"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, template
}

func TestImageBuildEndToEnd(t *testing.T) {
	dir, template := imageProject(t)
	r := runApp(t, nil, "image", "build", "--role", "server", "--template", template)
	if r.code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Packer's lines, prefixed, one for one, including the provisioners'.
	for _, want := range []string{"server | ==> file.image: Running local shell script", "server |     file.image: provisioning the server image",
		"server |     file.image: hardening"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if !strings.HasPrefix(l, "server | ") && !strings.HasPrefix(l, "server image built") {
			t.Errorf("unprefixed line %q", l)
		}
	}
	// The id comes from Packer's manifest: the file builder's artifact id.
	b, err := os.ReadFile(filepath.Join(dir, "terraform", "envs", "dev", "images.auto.tfvars.json"))
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"server_ami_id": "File", "client_ami_id": "ami-client"}; !reflect.DeepEqual(got, want) {
		t.Errorf("tfvars = %v, want %v", got, want)
	}
}

func TestImageBuildJSONEvents(t *testing.T) {
	_, template := imageProject(t)
	r := runApp(t, nil, "image", "build", "--role", "vault", "--env", "dev", "--template", template, "--json")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	kinds := map[string]int{}
	var summary map[string]any
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON Lines: %q: %v", sc.Text(), err)
		}
		kinds[m["kind"].(string)+"/"+strOf(m["type"])]++
		if m["kind"] == "summary" {
			summary = m
		}
	}
	if kinds["event/output"] < 5 || kinds["event/step"] < 2 || kinds["event/artifact"] != 1 {
		t.Errorf("events: %v", kinds)
	}
	if summary == nil || summary["variable"] != "vault_ami_id" || summary["artifact_id"] != "File" {
		t.Errorf("summary: %v", summary)
	}
}

func strOf(v any) string {
	s, _ := v.(string)
	return s
}

// A failing provisioner: non-zero exit, the step and Packer's reason in the
// message, and the tfvars file left as it was.
func TestImageBuildFailingProvisioner(t *testing.T) {
	dir, template := imageProject(t)
	r := runApp(t, nil, "image", "build", "--role", "client", "--template", template, "--var", "fail=true")
	if r.code != ExitFailure {
		t.Fatalf("exit %d, want %d\n%s\n%s", r.code, ExitFailure, r.stdout, r.stderr)
	}
	for _, want := range []string{"packer build failed in build file.image", "harden.sh", "Script exited with non-zero exit status: 3"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.Contains(r.stdout, "client | ") || !strings.Contains(r.stdout, "auditd: rules do not load") {
		t.Errorf("the failing script's output was not streamed:\n%s", r.stdout)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "terraform", "envs", "dev", "images.auto.tfvars.json"))
	if string(b) != `{"client_ami_id": "ami-client"}` {
		t.Errorf("tfvars changed by a failed build: %s", b)
	}
}

func TestImageBuildBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"image", "build"},
		{"image", "build", "--role", "bastion"},
		{"image", "build", "--role", "server", "--var", "novalue"},
		{"image", "build", "--role", "server", "--var", "role=client"},
		{"image", "build", "--role", "server", "--env", "../prod"},
	} {
		r := runApp(t, nil, args...)
		if r.code != ExitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, r.code, ExitUsage, r.stderr)
		}
	}
}
