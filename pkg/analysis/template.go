package analysis

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
)

// Target is what an analysis measures: the fields a query template can
// use to select the canary's series, or the stable version's for a
// comparison.
type Target struct {
	App string
	// Version is the new (canary) version and StableVersion the one it
	// replaces; both are the values the job renderer puts in the Consul
	// service meta "version", which Prometheus relabels to the label
	// "version". StableVersion is "" on a first deployment.
	Version       string
	StableVersion string
	Namespace     string
	JobID         string
	// AllocIDs are the canary allocations' IDs, which hstack's Prometheus
	// puts in the label "alloc_id".
	AllocIDs []string
}

// fieldNames are the names a query template may use, in documentation
// order.
var fieldNames = []string{"App", "Version", "StableVersion", "Namespace", "JobID", "AllocIDs"}

func (t Target) data() map[string]any {
	return map[string]any{
		"App":           t.App,
		"Version":       t.Version,
		"StableVersion": t.StableVersion,
		"Namespace":     t.Namespace,
		"JobID":         t.JobID,
		"AllocIDs":      t.AllocIDs,
	}
}

func (t Target) isSet(field string) bool {
	switch v := t.data()[field].(type) {
	case string:
		return v != ""
	case []string:
		return len(v) > 0
	}
	return false
}

// sampleTarget has every field set, so that executing a template against
// it fails only on names Target does not have.
var sampleTarget = Target{
	App: "app", Version: "2", StableVersion: "1", Namespace: "default", JobID: "app",
	AllocIDs: []string{"00000000-0000-0000-0000-000000000000"},
}

var funcs = template.FuncMap{
	// Arguments in this order so that a pipeline reads naturally:
	// {{ .AllocIDs | join "|" }}.
	"join": func(sep string, elems []string) string { return strings.Join(elems, sep) },
}

func parseQuery(q string) (*template.Template, error) {
	// The data is a map so that missingkey=error turns a misspelt field
	// into an error instead of an empty label value, which in PromQL
	// silently matches every series without that label.
	return template.New("query").Option("missingkey=error").Funcs(funcs).Parse(q)
}

// ValidateQuery checks a query template without a target: its syntax, its
// functions and that it uses only Target's fields. The stack loader or
// deploy calls it so that a typo fails before anything is submitted to
// Nomad. It does not check the PromQL itself.
func ValidateQuery(q string) error {
	tpl, err := parseQuery(q)
	if err != nil {
		return fmt.Errorf("query template: %w", err)
	}
	if unknown := unknownFields(tpl); len(unknown) > 0 {
		return fmt.Errorf("query template uses %s; a query can use .%s",
			plural(unknown, "unknown field"), strings.Join(fieldNames, ", ."))
	}
	// Catches what the tree walk cannot see, such as a function applied to
	// an argument of the wrong type.
	if err := tpl.Execute(&bytes.Buffer{}, sampleTarget.data()); err != nil {
		return fmt.Errorf("query template: %w", err)
	}
	return nil
}

// Render expands a query template for a target. Using a field that is
// empty for this target (StableVersion on a first deployment, AllocIDs
// before there are canaries) is an error rather than an empty string,
// because an empty label matcher selects the wrong series without any
// sign of it. A use guarded by {{ if .X }} or {{ with .X }} is fine, so a
// query can fall back when there is, say, no stable version yet.
func Render(q string, t Target) (string, error) {
	if err := ValidateQuery(q); err != nil {
		return "", err
	}
	tpl, _ := parseQuery(q) // parsed fine just above
	var empty []string
	for _, f := range slices.Sorted(maps.Keys(fieldsOf(tpl).unguarded)) {
		if !t.isSet(f) {
			empty = append(empty, "."+f)
		}
	}
	if len(empty) > 0 {
		return "", fmt.Errorf("query uses %s, empty for this rollout (guard it with {{ if }} to allow that)",
			strings.Join(empty, ", "))
	}
	var b bytes.Buffer
	if err := tpl.Execute(&b, t.data()); err != nil {
		return "", fmt.Errorf("query template: %w", err)
	}
	return b.String(), nil
}

func unknownFields(tpl *template.Template) []string {
	var out []string
	for _, f := range slices.Sorted(maps.Keys(fieldsOf(tpl).all)) {
		if !known(f) {
			out = append(out, "."+f)
		}
	}
	return out
}

func known(f string) bool {
	return slices.Contains(fieldNames, f)
}

// fieldUse holds the top-level fields a template reads from its data (.X
// and $.X): all of them, and those whose emptiness no if or with guards.
// Inside with and range the dot is something else, but a query has no
// reason to use them on anything but a Target field, and execution still
// catches what this misreads.
type fieldUse struct{ all, unguarded map[string]bool }

func fieldsOf(tpl *template.Template) fieldUse {
	u := fieldUse{all: map[string]bool{}, unguarded: map[string]bool{}}
	for _, t := range tpl.Templates() {
		if t.Tree != nil {
			u.walk(t.Tree.Root, nil, false)
		}
	}
	return u
}

// walk records the fields under n. guarded are the fields known to be
// non-empty here; test is set in an if or with condition, where an empty
// value is what is being tested for.
func (u fieldUse) walk(n parse.Node, guarded map[string]bool, test bool) {
	use := func(f string) {
		u.all[f] = true
		if !test && !guarded[f] {
			u.unguarded[f] = true
		}
	}
	switch n := n.(type) {
	case *parse.ListNode:
		if n != nil {
			for _, c := range n.Nodes {
				u.walk(c, guarded, test)
			}
		}
	case *parse.ActionNode:
		u.walk(n.Pipe, guarded, test)
	case *parse.PipeNode:
		if n != nil {
			for _, c := range n.Cmds {
				u.walk(c, guarded, test)
			}
		}
	case *parse.CommandNode:
		for _, a := range n.Args {
			u.walk(a, guarded, test)
		}
	case *parse.FieldNode:
		use(n.Ident[0])
	case *parse.VariableNode:
		if len(n.Ident) > 1 && n.Ident[0] == "$" {
			use(n.Ident[1])
		}
	case *parse.ChainNode:
		u.walk(n.Node, guarded, test)
	case *parse.IfNode:
		u.branch(&n.BranchNode, guarded)
	case *parse.WithNode:
		u.branch(&n.BranchNode, guarded)
	case *parse.RangeNode:
		// Ranging over no alloc IDs renders an empty regex, so the range
		// itself is a use.
		u.walk(n.Pipe, guarded, test)
		u.walk(n.List, guarded, test)
		u.walk(n.ElseList, guarded, test)
	case *parse.TemplateNode:
		u.walk(n.Pipe, guarded, test)
	}
}

func (u fieldUse) branch(b *parse.BranchNode, guarded map[string]bool) {
	u.walk(b.Pipe, guarded, true)
	inner := guarded
	if f := bareField(b.Pipe); f != "" {
		inner = map[string]bool{f: true}
		for g := range guarded {
			inner[g] = true
		}
	}
	u.walk(b.List, inner, false)
	u.walk(b.ElseList, guarded, false)
}

// bareField returns X for a pipeline that is just .X or $.X.
func bareField(p *parse.PipeNode) string {
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return ""
	}
	switch a := p.Cmds[0].Args[0].(type) {
	case *parse.FieldNode:
		if len(a.Ident) == 1 {
			return a.Ident[0]
		}
	case *parse.VariableNode:
		if len(a.Ident) == 2 && a.Ident[0] == "$" {
			return a.Ident[1]
		}
	}
	return ""
}

func plural(items []string, noun string) string {
	if len(items) == 1 {
		return noun + " " + items[0]
	}
	return noun + "s " + strings.Join(items, ", ")
}
