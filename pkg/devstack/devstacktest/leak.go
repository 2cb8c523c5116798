package devstacktest

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// LeakCheck collects the secrets issued during a test and everything the
// test's run printed and wrote, and asserts that no secret appears in any
// of it.
type LeakCheck struct {
	secrets map[string]string // value -> what it is
	sources []source
}

type source struct {
	name string
	data []byte
}

// NewLeakCheck returns an empty check.
func NewLeakCheck() *LeakCheck { return &LeakCheck{secrets: map[string]string{}} }

// Secret adds a secret. Values shorter than 8 bytes are refused: they would
// match by chance and prove nothing.
func (l *LeakCheck) Secret(t testing.TB, what, value string) {
	t.Helper()
	if len(value) < 8 {
		t.Fatalf("secret %s is %d bytes: too short to look for", what, len(value))
	}
	l.secrets[value] = what
}

// Capture adds something the run printed or wrote.
func (l *LeakCheck) Capture(name string, data []byte) {
	l.sources = append(l.sources, source{name, append([]byte(nil), data...)})
}

// CaptureFiles adds every regular file under dir whose path (relative to
// dir) keep accepts; a nil keep takes all.
func (l *LeakCheck) CaptureFiles(t testing.TB, dir string, keep func(rel string) bool) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a task's files come and go
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		if keep != nil && !keep(rel) {
			return nil
		}
		b, err := os.ReadFile(p) // #nosec G304 -- test helper: reads what the test's own run wrote
		if err == nil {
			l.Capture(p, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Check fails the test for every secret found in a capture, naming what
// and where (never the value), and logs how much it checked.
func (l *LeakCheck) Check(t testing.TB) (secrets int, bytes int64) {
	t.Helper()
	for _, s := range l.sources {
		bytes += int64(len(s.data))
		text := string(s.data)
		for value, what := range l.secrets {
			if strings.Contains(text, value) {
				t.Errorf("secret leaked: the %s appears in %s", what, s.name)
			}
		}
	}
	names := make([]string, 0, len(l.secrets))
	for _, what := range l.secrets {
		names = append(names, what)
	}
	sort.Strings(names)
	t.Logf("secrets-leak check: %d secrets checked in %d captures, %d bytes scanned (%s)", len(l.secrets), len(l.sources), bytes, strings.Join(names, ", "))
	return len(l.secrets), bytes
}
