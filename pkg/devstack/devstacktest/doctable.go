package devstacktest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DocTable is the body of the first Markdown table under the heading
// (e.g. "## The allowed/denied table") of a file of the repository
// (e.g. "docs/security.md"), one []string of trimmed cells per row, the
// header and separator rows left out. Tests compare it with the table
// they check, so the document cannot drift from what is proven.
func DocTable(t testing.TB, file, heading string) [][]string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("%s has no heading %q", file, heading)
	}
	if i := strings.Index(section, "\n## "); i >= 0 {
		section = section[:i]
	}
	var rows [][]string
	started := false
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		var cells []string
		for _, c := range strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|") {
			cells = append(cells, strings.TrimSpace(c))
		}
		rows = append(rows, cells)
	}
	if len(rows) < 2 {
		t.Fatalf("%s: no table under %q", file, heading)
	}
	return rows[2:] // the header and the |---| row
}

// SameTable fails the test, printing the table as it should read, when
// the document's rows differ from want.
func SameTable(t testing.TB, file, heading string, want [][]string) {
	t.Helper()
	got := DocTable(t, file, heading)
	render := func(rows [][]string) string {
		var b strings.Builder
		for _, r := range rows {
			b.WriteString("| " + strings.Join(r, " | ") + " |\n")
		}
		return b.String()
	}
	if render(got) != render(want) {
		t.Errorf("%s, %q: the table differs from the one the test checks; it should read (rows only):\n%s", file, heading, render(want))
	}
}
