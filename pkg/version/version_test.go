package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	i := Get()
	// Test binaries carry neither a module version nor VCS stamps, so the
	// defaults must come through untouched.
	if i.Version != "dev" || i.Commit != "unknown" {
		t.Fatalf("Get() = %+v, want dev/unknown defaults", i)
	}
	if i.GoVersion != runtime.Version() {
		t.Errorf("GoVersion = %q, want %q", i.GoVersion, runtime.Version())
	}
}

func TestLdflagsOverride(t *testing.T) {
	oldV, oldC := Version, Commit
	t.Cleanup(func() { Version, Commit = oldV, oldC })
	Version, Commit = "v1.2.3", "abc1234"

	s := String()
	for _, want := range []string{"v1.2.3", "abc1234", runtime.Version(), runtime.GOOS + "/" + runtime.GOARCH} {
		if !strings.Contains(s, want) {
			t.Errorf("String() = %q, missing %q", s, want)
		}
	}
}
