package analysis

import (
	"slices"
	"testing"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// The stack file accepts exactly the built-ins this package can run.
func TestBuiltinNamesMatchStackfile(t *testing.T) {
	if got, want := BuiltinNames(), stackfile.BuiltinAnalyses; !slices.Equal(got, want) {
		t.Fatalf("analysis built-ins %v, stackfile accepts %v", got, want)
	}
}
