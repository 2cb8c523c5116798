package appconfig

import (
	"errors"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func TestChecksum(t *testing.T) {
	if got := Checksum(nil); got != "" {
		t.Errorf("Checksum(nil) = %q, want empty: an app without config reads nothing", got)
	}
	a := Checksum(map[string]string{"greeting": "hi", "mode": "fast"})
	if len(a) != versionLen || !versionRE.MatchString(a) {
		t.Fatalf("Checksum = %q, want %d hex digits", a, versionLen)
	}
	if b := Checksum(map[string]string{"mode": "fast", "greeting": "hi"}); b != a {
		t.Errorf("Checksum depends on map order: %q vs %q", a, b)
	}
	for _, other := range []map[string]string{
		{"greeting": "hello", "mode": "fast"},
		{"greeting": "hi"},
		{"greeting": "hi", "mode": "fast", "x": ""},
	} {
		if Checksum(other) == a {
			t.Errorf("Checksum(%v) equals Checksum of a different config", other)
		}
	}
	// Keys and values are length-prefixed: moving a boundary changes it.
	if Checksum(map[string]string{"a": "bc"}) == Checksum(map[string]string{"ab": "c"}) {
		t.Error("Checksum cannot tell {a: bc} from {ab: c}")
	}
}

func TestTemplate(t *testing.T) {
	cfg := map[string]string{"greeting": "hi", "max.conns": "10"}
	got, err := Template("shop", "pingapp", cfg)
	if err != nil {
		t.Fatal(err)
	}
	v := Checksum(cfg)
	want := "{\n" +
		`  "greeting": {{ key "hstack/shop/pingapp/` + v + `/greeting" | toJSON }},` + "\n" +
		`  "max.conns": {{ key "hstack/shop/pingapp/` + v + `/max.conns" | toJSON }}` + "\n" +
		"}\n"
	if got != want {
		t.Errorf("Template =\n%s\nwant\n%s", got, want)
	}
	if got, err := Template("shop", "pingapp", nil); got != "" || err != nil {
		t.Errorf("Template of no config = %q, %v; want nothing", got, err)
	}
	if _, err := Template("shop", "pingapp", map[string]string{`x" }}{{ env "HOME`: "1"}); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("a key that would inject a template action: err = %v, want ErrInvalidKey", err)
	}
}

func TestValidKey(t *testing.T) {
	for _, k := range []string{"greeting", "GREETING", "db.pool_size", "a-b", "_x", "0"} {
		if err := ValidKey(k); err != nil {
			t.Errorf("ValidKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", ".hidden", "-x", "a/b", "a b", "ü", `a"b`, "{{", strings.Repeat("k", stackfile.MaxConfigKeyLen+1)} {
		if err := ValidKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
}

func TestPrefixes(t *testing.T) {
	if got := VersionPrefix("shop", "pingapp", "0123456789abcdef"); got != "hstack/shop/pingapp/0123456789abcdef/" {
		t.Errorf("VersionPrefix = %q", got)
	}
}
