package delivery

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// gosecReport is the part of gosec's JSON report the tests read.
type gosecReport struct {
	Errors map[string][]struct {
		Line  int    `json:"line"`
		Error string `json:"error"`
	} `json:"Golang errors"`
	Issues []struct {
		Rule    string `json:"rule_id"`
		File    string `json:"file"`
		Line    string `json:"line"`
		Details string `json:"details"`
	} `json:"Issues"`
	Stats struct {
		Files int `json:"files"`
		Nosec int `json:"nosec"`
		Found int `json:"found"`
	} `json:"Stats"`
}

// gosec runs scripts/gosec.sh, the one place that says how gosec runs (its
// flags, the rules excluded for test code and why), over module, with the
// binary pkg/tools found, and returns its JSON report.
func gosec(t *testing.T, module string) (gosecReport, []byte) {
	t.Helper()
	bin := need(t, "gosec")
	report := filepath.Join(t.TempDir(), "gosec.json")
	// -quiet=false: quiet, gosec writes no report when it finds nothing,
	// and the test reads the report's statistics and errors too.
	cmd := exec.Command(filepath.Join(root(t), "scripts", "gosec.sh"), "-quiet=false", "-fmt", "json", "-out", report)
	cmd.Env = append(os.Environ(), "HSTACK_GOSEC_BIN="+bin, "GOSEC_MODULE="+module)
	out, err := cmd.CombinedOutput()
	var rep gosecReport
	b, rerr := os.ReadFile(report)
	if rerr != nil {
		t.Fatalf("gosec wrote no report (%v): %v\n%s", rerr, err, out)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("gosec report: %v\n%s", err, b)
	}
	// gosec exits 1 on findings; anything else is gosec failing.
	if ee, ok := err.(*exec.ExitError); err != nil && (!ok || ee.ExitCode() != 1) {
		t.Fatalf("gosec: %v\n%s", err, out)
	}
	return rep, out
}

func (r gosecReport) findings(module string) []string {
	var got []string
	for _, i := range r.Issues {
		rel, err := filepath.Rel(module, i.File)
		if err != nil {
			rel = i.File
		}
		got = append(got, fmt.Sprintf("%s:%s: %s %s", rel, i.Line, i.Rule, i.Details))
	}
	sort.Strings(got)
	// A package is scanned once for itself and once with its tests.
	uniq := got[:0]
	for i, g := range got {
		if i == 0 || g != got[i-1] {
			uniq = append(uniq, g)
		}
	}
	return uniq
}

// TestGosecFindsNothingUnexplained is the security scan CI runs: gosec
// (pinned in versions.env) over the whole module, tests included. Every
// exception is a `#nosec Gxxx -- why` at its line or a test-code rule
// excluded, with its reason, in scripts/gosec.sh (see docs/security.md).
func TestGosecFindsNothingUnexplained(t *testing.T) {
	if testing.Short() {
		t.Skip("gosec type-checks the whole module (minutes); make lint runs it as well")
	}
	r := root(t)
	rep, _ := gosec(t, r)
	// A package that does not type-check is skipped by gosec's rules: that
	// is not a clean scan.
	for file, errs := range rep.Errors {
		for _, e := range errs {
			t.Errorf("gosec could not check %s:%d: %s", file, e.Line, e.Error)
		}
	}
	if got := rep.findings(r); len(got) > 0 {
		t.Errorf("gosec: %d findings. Fix each, or, if it is not a problem, say why at its line with `// #nosec %s -- why`:\n%s",
			len(got), "Gxxx", strings.Join(got, "\n"))
	}
	if rep.Stats.Files < 100 {
		t.Errorf("gosec checked only %d files: is it scanning the module?", rep.Stats.Files)
	}
	t.Logf("gosec: %d files, %d findings suppressed by a #nosec, %d reported", rep.Stats.Files, rep.Stats.Nosec, rep.Stats.Found)
}

// TestGosecScriptRules checks the script's rules on a module with planted
// findings: a #nosec without a rule or a reason does not count, one with
// both does, and test code is spared only the rules the script names.
func TestGosecScriptRules(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gosec, an external tool (seconds)")
	}
	mod := t.TempDir()
	files := map[string]string{
		"go.mod": "module example.com/planted\n\ngo 1.22\n",
		"p.go": `package planted

import "os"

func Write(b []byte) error { return os.WriteFile("planted", b, 0o644) }

func Read(p string) ([]byte, error) {
	return os.ReadFile(p) // #nosec
}

func ReadNoReason(p string) ([]byte, error) {
	return os.ReadFile(p) // #nosec G304
}

func ReadExplained(p string) ([]byte, error) {
	return os.ReadFile(p) // #nosec G304 -- the file the caller named
}
`,
		"p_test.go": `package planted

import (
	"os"
	"testing"
)

func TestRead(t *testing.T) {
	b, err := os.ReadFile(t.TempDir() + "/x")
	_, _ = b, err
	os.Remove("x")
}
`,
	}
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(mod, name), []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep, out := gosec(t, mod)
	var got []string
	for _, f := range rep.findings(mod) {
		file, rest, _ := strings.Cut(f, ":")
		line, rest, _ := strings.Cut(rest, ":")
		rule, _, _ := strings.Cut(strings.TrimSpace(rest), " ")
		got = append(got, file+":"+line+" "+rule)
	}
	want := []string{
		"p.go:5 G306",  // Write: mode 0644
		"p.go:8 G304",  // a bare #nosec
		"p.go:12 G304", // a #nosec with no reason
		"p_test.go:11 G104",
	}
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), out)
	}
}
