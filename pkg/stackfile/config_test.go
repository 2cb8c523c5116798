package stackfile

import (
	"strings"
	"testing"
)

func TestConfigKeys(t *testing.T) {
	src := `stack "shop" {}
app "web" {
  image = "nginx:1"
  port "http" {}
  config = {
    greeting      = "hi"
    "db.pool"     = "5"
    "a/b"         = "x"
    "{{ env }}"   = "y"
  }
}
`
	_, diags := Parse([]byte(src), "hstack.hcl", LoadOptions{Getenv: func(string) string { return "" }})
	var got []string
	for _, d := range diags {
		if d.Summary == "Invalid config key" {
			got = append(got, d.Detail)
			if d.Subject == nil || d.Subject.Start.Line != 5 {
				t.Errorf("diagnostic at %v, want the config attribute on line 5", d.Subject)
			}
		}
	}
	if len(got) != 2 || !strings.Contains(got[0], `"a/b"`) || !strings.Contains(got[1], `"{{ env }}"`) {
		t.Errorf("config key diagnostics: %q", got)
	}
	for _, ok := range []string{"greeting", "db.pool", "_x", "A-1"} {
		if err := ValidConfigKey(ok); err != nil {
			t.Errorf("ValidConfigKey(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", ".x", "-x", "a b", "ü", strings.Repeat("k", MaxConfigKeyLen+1)} {
		if ValidConfigKey(bad) == nil {
			t.Errorf("ValidConfigKey(%q) accepted", bad)
		}
	}
}
