// Package testenv decides what a test does when something it needs from the
// machine (a binary, a Debian package) is missing.
package testenv

import (
	"os"
	"testing"
)

// Missing ends the test for want of why: a skip that says why on a
// developer's machine, a failure in CI (CI set), which must never skip an
// integration test.
func Missing(t testing.TB, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
