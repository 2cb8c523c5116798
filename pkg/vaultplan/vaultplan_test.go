package vaultplan

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestDiff(t *testing.T) {
	// What the vault/api library decodes: numbers as json.Number, lists
	// as []any.
	var actual map[string]any
	dec := json.NewDecoder(strings.NewReader(`{"default_ttl": 3600, "max_ttl": 86400, "token_policies": ["b", "a"],
		"creation_statements": ["x", "y"], "claim_mappings": {"k": "v"}, "user_claim_json_pointer": true}`))
	dec.UseNumber()
	if err := dec.Decode(&actual); err != nil {
		t.Fatal(err)
	}
	same := map[string]any{
		"default_ttl":             time.Hour,
		"max_ttl":                 Seconds(24 * time.Hour),
		"token_policies":          Set{"a", "b"},
		"creation_statements":     []string{"x", "y"},
		"claim_mappings":          map[string]string{"k": "v"},
		"user_claim_json_pointer": true,
		"revocation_statements":   []string{}, // absent and empty: the same
	}
	if d := Diff(same, actual); len(d) != 0 {
		t.Errorf("equal configs differ: %+v", d)
	}
	changed := map[string]any{
		"default_ttl":         30 * time.Minute,
		"creation_statements": []string{"y", "x"}, // order matters for SQL
		"token_policies":      Set{"a"},
		"plugin_name":         "p",
	}
	d := Diff(changed, actual)
	var names []string
	for _, f := range d {
		names = append(names, f.Name)
	}
	want := []string{"creation_statements", "default_ttl", "plugin_name", "token_policies"}
	if len(names) != len(want) {
		t.Fatalf("differing fields %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("differing fields %v, want %v", names, want)
		}
	}
	if d[1].Old != "3600" || d[1].New != "1800" {
		t.Errorf("default_ttl shown as %s -> %s", d[1].Old, d[1].New)
	}
}
