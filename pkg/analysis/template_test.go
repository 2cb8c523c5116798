package analysis

import (
	"strings"
	"testing"
)

func TestRenderCanaryAndStable(t *testing.T) {
	q := `sum(rate(x{app="{{ .App }}",version="{{ .Version }}"}[1m]))` +
		` / sum(rate(x{app="{{ .App }}",version="{{ $.StableVersion }}"}[1m]))` +
		` and on() count(y{alloc_id=~"{{ .AllocIDs | join "|" }}",job="{{ .JobID }}",ns="{{ .Namespace }}"})`
	got, err := Render(q, target)
	if err != nil {
		t.Fatal(err)
	}
	want := `sum(rate(x{app="pingapp",version="2"}[1m]))` +
		` / sum(rate(x{app="pingapp",version="1"}[1m]))` +
		` and on() count(y{alloc_id=~"a1|b2",job="pingapp",ns="default"})`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, _ := Render("up", Target{}); got != "up" {
		t.Errorf("a query without placeholders renders to %q", got)
	}
}

func TestValidateQuery(t *testing.T) {
	for _, q := range []string{
		`up`,
		`x{v="{{ .Version }}"}`,
		`x{a=~"{{ join "|" .AllocIDs }}"}`,
		`{{ if .StableVersion }}x{v="{{ .StableVersion }}"}{{ else }}vector(1){{ end }}`,
		`{{ range $i, $a := .AllocIDs }}{{ if $i }}|{{ end }}{{ $a }}{{ end }}`,
	} {
		if err := ValidateQuery(q); err != nil {
			t.Errorf("ValidateQuery(%s): %v", q, err)
		}
	}
	for q, want := range map[string]string{
		`x{v="{{ .Versoin }}"}`:                 "unknown field .Versoin; a query can use .App, .Version",
		`x{v="{{ .version }}", a="{{ $.Ap }}"}`: "unknown fields .Ap, .version",
		`x{v="{{ .Version }"}`:                  "unexpected",
		`x{v="{{ .Version | upper }}"}`:         `function "upper" not defined`,
		`x{v="{{ .Version | join "|" }}"}`:      "wrong type",
		`{{ with .App }}{{ .Nope }}{{ end }}`:   "unknown field .Nope",
		`{{ template "x" }}`:                    `template "x" not defined`,
	} {
		err := ValidateQuery(q)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ValidateQuery(%s) = %v, want %q", q, err, want)
		}
	}
}

func TestRenderEmptyFields(t *testing.T) {
	first := Target{App: "pingapp", Version: "1"} // a first deployment: nothing stable, no canaries yet
	for q, want := range map[string]string{
		`x{v="{{ .StableVersion }}"}`:                         ".StableVersion, empty",
		`x{a=~"{{ .AllocIDs | join "|" }}",j="{{ .JobID }}"}`: ".AllocIDs, .JobID, empty",
	} {
		if _, err := Render(q, first); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Render(%s) = %v, want %q", q, err, want)
		}
	}
	// A guarded use is how a query falls back on a first deployment.
	q := `{{ if .StableVersion }}x{v="{{ .StableVersion }}"}{{ else }}vector(1){{ end }}`
	if got, err := Render(q, first); err != nil || got != "vector(1)" {
		t.Errorf("guarded, first deployment: %q, %v", got, err)
	}
	if got, err := Render(q, target); err != nil || got != `x{v="1"}` {
		t.Errorf("guarded, with a stable version: %q, %v", got, err)
	}
	q = `{{ with .StableVersion }}x{v="{{ . }}"}{{ end }}`
	if got, err := Render(q, target); err != nil || got != `x{v="1"}` {
		t.Errorf("with: %q, %v", got, err)
	}
	// The guard covers its own branch only.
	q = `{{ if .StableVersion }}1{{ else }}x{v="{{ .StableVersion }}"}{{ end }}`
	if _, err := Render(q, first); err == nil {
		t.Error("Render accepted an unguarded use in the else branch")
	}
	q = `{{ range .AllocIDs }}{{ . }}{{ end }}`
	if _, err := Render(q, first); err == nil {
		t.Error("Render accepted ranging over no alloc IDs")
	}
}
