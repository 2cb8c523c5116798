package image

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestImageID(t *testing.T) {
	for in, want := range map[string]string{
		"eu-west-1:ami-0123456789abcdef0":       "ami-0123456789abcdef0",
		"eu-west-1:ami-0aaa,us-east-1:ami-0bbb": "ami-0aaa",
		"File":                                  "File",
	} {
		if got := ImageID(in); got != want {
			t.Errorf("ImageID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMergeVarsKeepsOtherRoles(t *testing.T) {
	out, err := MergeVars([]byte(`{"client_ami_id": "ami-c", "vault_ami_id": "ami-v", "other": 3}`), "server_ami_id", "ami-s")
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"client_ami_id": "ami-c", "vault_ami_id": "ami-v", "server_ami_id": "ami-s", "other": float64(3)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if _, err := MergeVars([]byte(`["not", "an object"]`), "k", "v"); err == nil {
		t.Error("a JSON array was accepted as a tfvars file")
	}
	out, _ = MergeVars(nil, "server_ami_id", "ami-s")
	if string(out) != "{\n  \"server_ami_id\": \"ami-s\"\n}\n" {
		t.Errorf("new file: %q", out)
	}
}

func TestWriteVarsCreatesAndMerges(t *testing.T) {
	f := VarsFile(t.TempDir(), "dev")
	if err := WriteVars(f, "server_ami_id", "ami-1"); err != nil {
		t.Fatal(err)
	}
	if err := WriteVars(f, "client_ami_id", "ami-2"); err != nil {
		t.Fatal(err)
	}
	if err := WriteVars(f, "server_ami_id", "ami-3"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	var got map[string]string
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, map[string]string{"server_ami_id": "ami-3", "client_ami_id": "ami-2"}) {
		t.Errorf("%s: %s", f, b)
	}
	if !strings.HasSuffix(filepath.ToSlash(f), "terraform/envs/dev/images.auto.tfvars.json") {
		t.Errorf("VarsFile = %s", f)
	}
}

// The manifest keeps every run's builds; only the last run's count.
func TestReadManifestLastRunOnly(t *testing.T) {
	f := filepath.Join(t.TempDir(), "m.json")
	if err := os.WriteFile(f, []byte(`{"builds": [
	  {"name": "hstack", "builder_type": "amazon-ebs", "artifact_id": "eu-west-1:ami-old", "packer_run_uuid": "r1"},
	  {"name": "hstack", "builder_type": "amazon-ebs", "artifact_id": "eu-west-1:ami-new", "packer_run_uuid": "r2",
	   "custom_data": {"role": "server"}}],
	  "last_run_uuid": "r2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	arts, err := ReadManifest(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(arts) != 1 || ImageID(arts[0].ArtifactID) != "ami-new" || arts[0].CustomData["role"] != "server" {
		t.Errorf("got %+v", arts)
	}
	if _, err := ReadManifest(filepath.Join(t.TempDir(), "none.json")); err == nil || !strings.Contains(err.Error(), "manifest post-processor") {
		t.Errorf("missing manifest: %v", err)
	}
}

// Packer 1.11's -machine-readable lines for a failed provisioner (from a
// real run of testdata/template with fail=true): the script's stderr looks
// like a step on a terminal, but is a ui error, not a step.
func TestTrackerNamesTheFailingStep(t *testing.T) {
	var events []Event
	tr := &tracker{role: "client", sink: func(e Event) { events = append(events, e) }}
	for _, l := range []string{
		"1796162461,,ui,say,==> file.image: Running local shell script: /tmp/packer-shell2837184263",
		"1796162461,,ui,message,    file.image: provisioning the client image%!(PACKER_COMMA) first",
		"1796162461,,ui,say,==> file.image: Running local shell script: /t/harden.sh",
		"1796162461,,ui,message,    file.image: hardening",
		"1796162461,,ui,error,==> file.image: auditd: rules do not load",
		"1796162461,,ui,error,Build 'file.image' errored after 32 milliseconds 258 microseconds: Script exited with non-zero exit status: 3. Allowed exit codes are: [0]",
		"1796162461,,ui,say,\\n==> Wait completed after 32 milliseconds 350 microseconds",
		"1796162461,,error-count,1",
		"1796162461,file.image,error,Script exited with non-zero exit status: 3. Allowed exit codes are: [0]",
	} {
		tr.line(l)
	}
	be := tr.failure()
	if be.Build != "file.image" || be.Step != "Running local shell script: /t/harden.sh" ||
		be.Message != "Script exited with non-zero exit status: 3. Allowed exit codes are: [0]" {
		t.Errorf("failure = %+v", be)
	}
	var lines []string
	steps := 0
	for _, e := range events {
		switch e.Type {
		case EventOutput:
			lines = append(lines, e.Line)
		case EventStep:
			steps++
		}
	}
	if steps != 2 {
		t.Errorf("%d steps, want 2 (the two scripts)", steps)
	}
	if len(lines) != 7 || lines[1] != "    file.image: provisioning the client image, first" || lines[6] != "==> Wait completed after 32 milliseconds 350 microseconds" {
		t.Errorf("lines: %q", lines)
	}
}

func TestBuildArgs(t *testing.T) {
	got := BuildArgs("packer", map[string]string{"role": "vault", "b": "2", "a": "1"}, []string{"amazon-ebs.hstack"})
	want := []string{"build", "-machine-readable", "-var", "a=1", "-var", "b=2", "-var", "role=vault", "-only=amazon-ebs.hstack", "packer"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q", got)
	}
}
