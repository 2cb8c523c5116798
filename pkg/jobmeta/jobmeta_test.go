package jobmeta

import "testing"

func TestSanitizeTag(t *testing.T) {
	for in, want := range map[string]string{
		"1.2.0":          "1.2.0",
		"v1.2.0+build.7": "v1.2.0-build.7",
		"feature/x y":    "feature-x-y",
		"":               "unversioned",
		"ümlaut":         "-mlaut",
		"a_b-c":          "a_b-c",
	} {
		if got := SanitizeTag(in); got != want {
			t.Errorf("SanitizeTag(%q) = %q, want %q", in, got, want)
		}
	}
	if got := ReleaseTag("1.0+x"); got != "release-1.0-x" {
		t.Errorf("ReleaseTag = %q", got)
	}
}
