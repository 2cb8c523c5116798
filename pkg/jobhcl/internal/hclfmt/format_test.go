package hclfmt

import (
	"testing"

	"github.com/apparentlymart/go-textseg/v15/textseg"
)

// graphemes counts as hclwrite does (textseg's grapheme clusters through
// a bufio.Scanner), without the scanner.
func TestGraphemesCountsLikeHclwrite(t *testing.T) {
	for _, s := range []string{
		"", "a", "plain_ident", "x\r\ny", "\r", "\r\n", "\n\n", "héllo", "e\u0301", "✓", "👩‍👩‍👧", "🇩🇪🇫🇷",
		"ﾃｽﾄ", "a\u2028b", "\t", "\x00", "tab\there", "\xff", "a\xffb",
	} {
		want, _ := textseg.TokenCount([]byte(s), textseg.ScanGraphemeClusters)
		if got := graphemes([]byte(s)); got != want {
			t.Errorf("graphemes(%q) = %d, want %d", s, got, want)
		}
	}
}
