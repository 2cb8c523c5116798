package stackfile

import (
	"io"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// FuzzParse feeds arbitrary files and environment names through the whole
// pipeline, diagnostics rendering included. Seeds live in
// testdata/fuzz/FuzzParse (the example stack file and broken snippets);
// plain `go test` runs them, `go test -fuzz FuzzParse` explores from them.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, src []byte, env string) {
		p := hclparse.NewParser()
		s, diags := Parse(src, "fuzz.hcl", LoadOptions{
			Env:    env,
			Getenv: func(string) string { return "" },
			Parser: p,
		})
		if diags.HasErrors() != (s == nil) {
			t.Fatalf("errors %v but stack %v", diags.HasErrors(), s != nil)
		}
		for _, d := range diags {
			if d.Severity == hcl.DiagError && d.Summary == "" {
				t.Fatalf("error without summary: %+v", d)
			}
		}
		_ = hcl.NewDiagnosticTextWriter(io.Discard, p.Files(), 80, true).WriteDiagnostics(diags)
	})
}
