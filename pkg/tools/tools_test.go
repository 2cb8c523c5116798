package tools

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestVersionsPinned(t *testing.T) {
	for _, name := range []string{"nomad", "consul", "vault", "terraform", "packer"} {
		if Version(name) == "" {
			t.Errorf("no pinned version for %s in versions.env", name)
		}
	}
	if Versions()["NOMAD_API_VERSION"] == "" {
		t.Error("NOMAD_API_VERSION missing: Nomad cannot be built without it")
	}
}

func TestFindPrefersEnvThenCache(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("HSTACK_CACHE", cache)
	t.Setenv("PATH", t.TempDir())
	if _, err := Find("nomad"); err == nil {
		t.Fatal("expected not found with empty PATH and cache")
	}
	bin := filepath.Join(cache, "tools", "nomad-"+Version("nomad"), "nomad")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := Find("nomad")
	if err != nil || got != bin {
		t.Fatalf("Find = %q, %v; want %q", got, err, bin)
	}
	t.Setenv("HSTACK_NOMAD_BIN", "/opt/nomad")
	if got, _ := Find("nomad"); got != "/opt/nomad" {
		t.Fatalf("env override ignored: %q", got)
	}
}

func TestFindPrefersNomadWithUI(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("HSTACK_CACHE", cache)
	t.Setenv("HSTACK_NOMAD_BIN", "")
	t.Setenv("PATH", t.TempDir())
	plain := filepath.Join(cache, "tools", "nomad-"+Version("nomad"), "nomad")
	withUI := filepath.Join(NomadUIDir(), "nomad")
	for _, p := range []string{plain, withUI} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(plain, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := Find("nomad"); got != plain {
		t.Fatalf("without a UI build Find = %q, want the plain build %q", got, plain)
	}
	if err := os.WriteFile(withUI, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, _ := Find("nomad"); got != withUI {
		t.Fatalf("Find = %q, want the UI build %q", got, withUI)
	}
	if !strings.HasPrefix(withUI, filepath.Join(cache, "tools", "nomad-ui-")) {
		t.Errorf("NomadUIDir %q is not the tools.sh nomad-ui cache dir", NomadUIDir())
	}
}
