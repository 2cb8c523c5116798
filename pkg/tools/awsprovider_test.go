package tools

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The Go side names the provider's directory as scripts/tools.sh does: the
// same services, the same hash.
func TestAWSProviderMirrorNameMatchesToolsSh(t *testing.T) {
	out, err := exec.Command("bash", "-c", `grep -v '^[[:space:]]*\(#\|$\)' aws-provider-services.txt | sha256sum | cut -c1-12`).Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("HSTACK_CACHE", t.TempDir())
	ver := Versions()["AWS_PROVIDER_VERSION"]
	dir := filepath.Join(os.Getenv("HSTACK_CACHE"), "tools", "aws-provider-"+ver+"-"+strings.TrimSpace(string(out)))
	if _, err := AWSProviderMirror(); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("with nothing built: %v; want ErrNotFound naming %s", err, dir)
	}
	bin := filepath.Join(dir, "mirror", "registry.terraform.io", "hashicorp", "aws", ver, "linux_amd64", "terraform-provider-aws_v"+ver)
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "terraformrc"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := AWSProviderMirror(); err != nil || got != dir {
		t.Fatalf("AWSProviderMirror() = %q, %v; want %q", got, err, dir)
	}
	if s := AWSProviderServices(); len(s) == 0 || s[0] != "acm" {
		t.Errorf("services %v", s)
	}
}
