// Package vaultplan compares the configuration hstack wants at a Vault path
// with what Vault returns for it, so setup commands write only what
// differs and can print a plan-like summary of what they changed.
package vaultplan

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"
)

// Action says what happened (or would happen) to one Vault object.
type Action string

// Actions.
const (
	Create    Action = "create"
	Update    Action = "update"
	Unchanged Action = "unchanged"
	// Rotate is the database engine's rotate-root: an action with no
	// fields, recorded so a run that rotated says so.
	Rotate Action = "rotate"
)

// Change is one object's entry in the summary.
type Change struct {
	Action Action `json:"action"`
	// Object names it the way the vault CLI would, e.g.
	// "database/roles/pingapp" or "auth/jwt-nomad (jwt auth method)".
	Object string `json:"object"`
	// Fields are the differing fields of an update; empty otherwise.
	Fields []Field `json:"fields,omitempty"`
	// Note explains an action whose reason is not a field, e.g. why the
	// root credential was rotated.
	Note string `json:"note,omitempty"`
}

// Field is one differing field. Old and New are display strings: long
// values (SQL statements, policies) are summarised, and secrets are never
// compared at all.
type Field struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// String renders a change for humans, e.g.
// "~ database/roles/reporting: default_ttl 1800 -> 900".
func (c Change) String() string {
	sym := map[Action]string{Create: "+", Update: "~", Unchanged: "=", Rotate: "*"}[c.Action]
	s := fmt.Sprintf("%s %s", sym, c.Object)
	if len(c.Fields) > 0 {
		var parts []string
		for _, f := range c.Fields {
			parts = append(parts, fmt.Sprintf("%s %s -> %s", f.Name, f.Old, f.New))
		}
		s += ": " + strings.Join(parts, ", ")
	}
	if c.Note != "" {
		s += " (" + c.Note + ")"
	}
	return s
}

// Set marks a desired list whose order Vault does not keep or that does
// not matter (policies, audiences, allowed roles).
type Set []string

// Seconds marks a desired duration that Vault reports as whole seconds.
type Seconds time.Duration

// Diff returns the fields of desired whose value in actual (a Vault read's
// Data) differs. A field missing from actual differs unless desired is
// its zero value.
func Diff(desired, actual map[string]any) []Field {
	var names []string
	for k := range desired {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []Field
	for _, k := range names {
		want := normalize(desired[k])
		got := normalize(actual[k])
		if got == nil && isZero(want) {
			continue
		}
		if !equal(want, got) {
			out = append(out, Field{Name: k, Old: display(got), New: display(want)})
		}
	}
	return out
}

// normalize maps desired and JSON-decoded values onto comparable forms:
// strings, int64, bool, []string (sorted for Set) and map[string]string.
func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string, bool:
		return x
	case int:
		return int64(x)
	case int64:
		return x
	case Seconds:
		return int64(time.Duration(x) / time.Second)
	case time.Duration:
		return int64(x / time.Second)
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		return x.String()
	case float64:
		return int64(x)
	case Set:
		s := slices.Clone([]string(x))
		sort.Strings(s)
		return sortedList(s)
	case []string:
		return slices.Clone(x)
	case []any:
		s := make([]string, 0, len(x))
		for _, e := range x {
			s = append(s, fmt.Sprint(e))
		}
		return s
	case map[string]string:
		return x
	case map[string]any:
		m := make(map[string]string, len(x))
		for k, e := range x {
			m[k] = fmt.Sprint(e)
		}
		return m
	}
	return fmt.Sprint(v)
}

// sortedList is a normalised Set: compared to what Vault returns after
// sorting that too.
type sortedList []string

func equal(want, got any) bool {
	switch w := want.(type) {
	case sortedList:
		g, ok := got.([]string)
		if !ok {
			return len(w) == 0 && got == nil
		}
		g = slices.Clone(g)
		sort.Strings(g)
		return slices.Equal([]string(w), g)
	case []string:
		g, ok := got.([]string)
		if !ok {
			return len(w) == 0 && got == nil
		}
		return slices.Equal(w, g)
	case map[string]string:
		g, ok := got.(map[string]string)
		if !ok {
			return len(w) == 0 && got == nil
		}
		if len(w) != len(g) {
			return false
		}
		for k, v := range w {
			if g[k] != v {
				return false
			}
		}
		return true
	}
	return want == got
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case int64:
		return x == 0
	case sortedList:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	}
	return false
}

// display keeps summaries one line long: multi-line values (SQL, policy
// documents) are shown by size only.
func display(v any) string {
	switch x := v.(type) {
	case nil:
		return "(none)"
	case string:
		if strings.Contains(x, "\n") || len(x) > 80 {
			return fmt.Sprintf("(%d characters)", len(x))
		}
		return fmt.Sprintf("%q", x)
	case sortedList:
		return display([]string(x))
	case []string:
		for _, e := range x {
			if strings.Contains(e, "\n") || len(e) > 80 {
				return fmt.Sprintf("(%d statements)", len(x))
			}
		}
		return "[" + strings.Join(x, ", ") + "]"
	case map[string]string:
		var parts []string
		for _, k := range slices.Sorted(maps.Keys(x)) {
			parts = append(parts, k+"="+x[k])
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	return fmt.Sprint(v)
}

// Plain turns the marker types (Set, Seconds) of a desired state into what
// Vault's API accepts, for writing it.
func Plain(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case Set:
			out[k] = []string(x)
		case Seconds:
			out[k] = int64(time.Duration(x) / time.Second)
		default:
			out[k] = v
		}
	}
	return out
}
