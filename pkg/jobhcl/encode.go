// Package jobhcl renders a *nomadapi.Job as a Nomad HCL2 job specification.
//
// hstack builds every job in Go; `hstack deploy` submits that value and
// `hstack render` writes it to jobs/ for review. Encode makes the second
// output faithful to the first: the file, parsed by Nomad's own jobspec
// parser, yields the job that was encoded (the tests check this against a
// real Nomad, field by field).
//
// # Field coverage
//
// The encoder walks the api structs by reflection and names each field by its
// `hcl` struct tag, the very tags Nomad's jobspec2 parser decodes with, so a
// field the parser knows is a field the encoder writes, including ones added
// to the api package later. On top of that it knows the parser's special
// cases: constraint and affinity shorthands, env/meta written as an
// attribute when a key is not an identifier, the default workload identity
// (Task.Identity), static versus dynamic ports, group and task scaling
// blocks, free-form maps (driver config, scaling policy, proxy config) and
// durations. Vault stays per task: the api has no job-level vault.
//
// A non-zero field that HCL cannot carry is an error, never a silent drop:
// an untagged field (Job.Stop, Job.ConsulNamespace, deprecated aliases such
// as ConsulProxy.ExposeConfig), a value the parser would read back
// differently (a dynamic port with a static value, a map key that is not an
// HCL identifier where only block syntax is accepted, a nil at the top of a
// driver config, text not in Unicode NFC), or a Go type HCL has no literal
// for. Server-managed state (Job.Status, Version, the Raft indexes,
// SubmitTime, ParentID, scaling policy IDs, ...) is ignored: it describes a
// registered job, not its specification, so a job read back from Nomad still
// renders.
//
// Nil pointers and zero non-pointer values are omitted, as are empty slices
// and maps; a pointer to a zero value ("count = 0") is written, because it
// differs from unset once Nomad canonicalizes the job.
//
// # Values
//
// Strings are literal: `${NOMAD_ADDR_http}` is written `$${NOMAD_ADDR_http}`
// (and `%{` as `%%{`), which HCL reads back as the exact text, instead of
// relying on the parser's fallback for undefined variables. Newline-terminated
// multi-line text, template data above all, is an indented `<<-EOT` heredoc
// when that reads back exactly, otherwise a quoted string. Durations use the
// shortest form time.ParseDuration reads: "5m", "1h30m", "500ms".
//
// Free-form maps come back from the parser as JSON-like values: integral
// numbers as int, lists as []interface{}, repeated blocks as
// []map[string]interface{}. Those are the shapes to build driver config with
// in Go; any other shape is written faithfully but returns in that form,
// which is the same JSON Nomad receives from `hstack deploy`.
package jobhcl

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/apparentlymart/go-textseg/v15/textseg"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/zclconf/go-cty/cty"

	"github.com/hstack-dev/hstack/pkg/jobhcl/internal/hclfmt"
)

// Encode renders job as a Nomad HCL2 job specification, formatted like `nomad fmt`
// (hclwrite.Format), byte-identical across runs for the same job.
func Encode(job *nomadapi.Job) ([]byte, error) {
	f, err := build(job)
	if err != nil {
		return nil, err
	}
	return format(f), nil
}

// build encodes job into an unformatted hclwrite file.
func build(job *nomadapi.Job) (*hclwrite.File, error) {
	if job == nil {
		return nil, errors.New("jobhcl: nil job")
	}
	if job.ID == nil || *job.ID == "" {
		return nil, errors.New("jobhcl: job has no ID")
	}
	if err := checkNFC(*job.ID); err != nil {
		return nil, fmt.Errorf("jobhcl: job ID: %w", err)
	}
	f := hclwrite.NewEmptyFile()
	root := &writer{body: f.Body(), depth: 0}
	e := &encoder{}
	err := root.block("job", []string{*job.ID}, func(w *writer) error {
		return e.structBody(w, fmt.Sprintf("job %q", *job.ID), reflect.ValueOf(job).Elem())
	})
	if err != nil {
		return nil, fmt.Errorf("jobhcl: %w", err)
	}
	return f, nil
}

// format writes f as hclwrite.Format(f.Bytes()) would, formatting the
// tokens hclwrite built once, in place, instead of formatting them,
// writing them out, re-lexing and formatting again (TestFormatIsHclwrites
// holds the two to the same bytes). The output is not parsed again here:
// the tests parse every kind of job the encoder writes with Nomad's own
// parser.
func format(f *hclwrite.File) []byte {
	toks := f.BuildTokens(nil)
	hclfmt.Format(toks)
	var buf bytes.Buffer
	buf.Grow(len(toks) * 8)
	_, _ = toks.WriteTo(&buf)
	return buf.Bytes()
}

type encoder struct{}

// writer appends to one HCL body and knows its nesting depth, which heredocs
// need: their content is indented by hand, hclwrite.Format leaves it alone.
type writer struct {
	body  *hclwrite.Body
	depth int
	n     int  // items written
	wide  bool // last item was a multi-line block
}

// sep puts a blank line around multi-line blocks, the layout of Nomad's docs.
func (w *writer) sep(wide bool) {
	if w.n > 0 && (wide || w.wide) {
		w.body.AppendNewline()
	}
	w.n++
	w.wide = wide
}

func (w *writer) attr(name string, toks hclwrite.Tokens) {
	w.sep(false)
	w.body.SetAttributeRaw(name, toks)
}

func (w *writer) value(name string, v cty.Value) {
	w.attr(name, valueTokens(v))
}

// valueTokens is hclwrite.TokensForValue, except that a list too long for
// one line gets one element per line, as people write long args lists.
func valueTokens(v cty.Value) hclwrite.Tokens {
	toks := hclwrite.TokensForValue(v)
	if !(v.Type().IsTupleType() || v.Type().IsListType()) || v.LengthInt() < 2 || len(toks.Bytes()) <= 80 {
		return toks
	}
	nl := func() *hclwrite.Token { return &hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")} }
	out := hclwrite.Tokens{{Type: hclsyntax.TokenOBrack, Bytes: []byte("[")}, nl()}
	for it := v.ElementIterator(); it.Next(); {
		_, ev := it.Element()
		out = append(out, hclwrite.TokensForValue(ev)...)
		out = append(out, &hclwrite.Token{Type: hclsyntax.TokenComma, Bytes: []byte(",")}, nl())
	}
	return append(out, &hclwrite.Token{Type: hclsyntax.TokenCBrack, Bytes: []byte("]")})
}

// block writes `typ "label" { ... }`; an empty body becomes `typ {}` on one
// line, as people write `vault {}` or `port "http" {}`.
func (w *writer) block(typ string, labels []string, fill func(*writer) error) error {
	blk := hclwrite.NewBlock(typ, labels)
	child := &writer{body: blk.Body(), depth: w.depth + 1}
	if err := fill(child); err != nil {
		return err
	}
	if child.n == 0 {
		w.sep(false)
		toks := hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: []byte(typ)}}
		for _, l := range labels {
			toks = append(toks, hclwrite.TokensForValue(cty.StringVal(l))...)
		}
		toks = append(toks,
			&hclwrite.Token{Type: hclsyntax.TokenOBrace, Bytes: []byte("{")},
			&hclwrite.Token{Type: hclsyntax.TokenCBrace, Bytes: []byte("}")},
			&hclwrite.Token{Type: hclsyntax.TokenNewline, Bytes: []byte("\n")},
		)
		w.body.AppendUnstructuredTokens(toks)
		return nil
	}
	w.sep(true)
	w.body.AppendBlock(blk)
	return nil
}

// --- struct walking -------------------------------------------------------

type fieldKind int

const (
	kindNone fieldKind = iota
	kindAttr
	kindBlock
	kindLabel
)

type fieldSpec struct {
	index    int
	goName   string
	name     string
	kind     fieldKind
	required bool
	jsonSkip bool
}

var specCache sync.Map // reflect.Type -> []fieldSpec

// specsFor lists t's fields in output order: attributes, then blocks, each
// group in the order of fieldOrder (Nomad's documentation) and then struct
// order.
func specsFor(t reflect.Type) []fieldSpec {
	if v, ok := specCache.Load(t); ok {
		return v.([]fieldSpec)
	}
	var specs []fieldSpec
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		s := fieldSpec{index: i, goName: f.Name, jsonSkip: f.Tag.Get("json") == "-"}
		if tag, ok := f.Tag.Lookup("hcl"); ok {
			parts := strings.Split(tag, ",")
			s.name = parts[0]
			s.kind, s.required = kindAttr, true
			for _, p := range parts[1:] {
				switch p {
				case "optional":
					s.required = false
				case "block":
					s.kind, s.required = kindBlock, false
				case "label":
					s.kind, s.required = kindLabel, false
				}
			}
		}
		specs = append(specs, s)
	}
	order := fieldOrder[t]
	rank := func(s fieldSpec) int {
		if i := slices.Index(order, s.name); i >= 0 {
			return i
		}
		return len(order) + s.index
	}
	group := map[fieldKind]int{kindLabel: 0, kindAttr: 1, kindBlock: 2, kindNone: 3}
	sort.SliceStable(specs, func(i, j int) bool {
		if gi, gj := group[specs[i].kind], group[specs[j].kind]; gi != gj {
			return gi < gj
		}
		return rank(specs[i]) < rank(specs[j])
	})
	specCache.Store(t, specs)
	return specs
}

// handler writes one field itself instead of the generic rules.
type handler func(e *encoder, w *writer, path string, parent reflect.Value, field reflect.Value) error

func (e *encoder) structBody(w *writer, path string, v reflect.Value) error {
	t := v.Type()
	if fn, ok := bodyEncoders[t]; ok {
		return fn(e, w, path, v)
	}
	for _, s := range specsFor(t) {
		fv := v.Field(s.index)
		fpath := path + "." + s.goName
		if h, ok := handlers[t][s.goName]; ok {
			if err := h(e, w, fpath, v, fv); err != nil {
				return err
			}
			continue
		}
		switch s.kind {
		case kindLabel:
			// Written as the block's label by the caller.
		case kindAttr:
			if s.required {
				// The parser rejects a block without its required attributes,
				// so they are written even when zero.
				if isNil(fv) {
					def, ok := requiredDefaults[t][s.goName]
					if !ok {
						return fmt.Errorf("%s: %q is required by the jobspec but unset", path, s.name)
					}
					fv = reflect.ValueOf(def)
				}
				if !isNil(fv) && omit(fv) {
					cv, err := toCty(fv)
					if err != nil {
						return fmt.Errorf("%s: %w", fpath, err)
					}
					w.value(s.name, cv)
					continue
				}
			}
			if err := e.attr(w, fpath, s.name, fv); err != nil {
				return err
			}
		case kindBlock:
			if err := e.blockField(w, fpath, s.name, fv); err != nil {
				return err
			}
		case kindNone:
			if ignored[t][s.goName] || s.jsonSkip || isZero(fv) {
				continue
			}
			return fmt.Errorf("%s is set but has no HCL jobspec representation", fpath)
		}
	}
	return nil
}

func isNil(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		return v.IsNil()
	}
	return false
}

// isZero treats a pointer to a zero value as zero: for fields HCL cannot
// carry, Canonicalize's `Stop: false` means the same as unset.
func isZero(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil() || isZero(v.Elem())
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

// omit reports whether a field is left out: nil, empty, or a non-pointer
// zero (the parser leaves those zero when the attribute is absent).
func omit(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Slice, reflect.Map:
		return v.Len() == 0
	}
	return v.IsZero()
}

var durationType = reflect.TypeOf(time.Duration(0))

func (e *encoder) attr(w *writer, path, name string, v reflect.Value) error {
	if omit(v) {
		return nil
	}
	for v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if v.Type() == durationType {
		w.value(name, cty.StringVal(FormatDuration(time.Duration(v.Int()))))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		if err := checkNFC(v.String()); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		w.attr(name, stringTokens(v.String(), w.depth))
		return nil
	// Scalars are most attributes of a job. They are written as
	// hclwrite.TokensForValue writes them, without the trip through cty,
	// whose numbers are big.Floats: 6% of rendering's allocations.
	case reflect.Bool:
		w.attr(name, hclwrite.Tokens{{Type: hclsyntax.TokenIdent, Bytes: strconv.AppendBool(nil, v.Bool())}})
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		w.attr(name, hclwrite.Tokens{{Type: hclsyntax.TokenNumberLit, Bytes: strconv.AppendInt(nil, v.Int(), 10)}})
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.attr(name, hclwrite.Tokens{{Type: hclsyntax.TokenNumberLit, Bytes: strconv.AppendUint(nil, v.Uint(), 10)}})
		return nil
	}
	cv, err := toCty(v)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	w.value(name, cv)
	return nil
}

func (e *encoder) blockField(w *writer, path, name string, v reflect.Value) error {
	if omit(v) {
		return nil
	}
	t := v.Type()
	switch {
	case t.Kind() == reflect.Pointer && t.Elem().Kind() == reflect.Struct:
		return e.structBlock(w, path, name, v.Elem())
	case t.Kind() == reflect.Struct:
		return e.structBlock(w, path, name, v)
	case t.Kind() == reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			el := v.Index(i)
			epath := fmt.Sprintf("%s[%d]", path, i)
			if el.Kind() == reflect.Pointer {
				if el.IsNil() {
					return fmt.Errorf("%s: nil element", epath)
				}
				el = el.Elem()
			}
			if el.Kind() != reflect.Struct {
				return fmt.Errorf("%s: unsupported block element type %s", epath, el.Type())
			}
			if err := e.structBlock(w, epath, name, el); err != nil {
				return err
			}
		}
		return nil
	case t.Kind() == reflect.Map && t.Key().Kind() == reflect.String:
		et := t.Elem()
		switch {
		case et.Kind() == reflect.Interface:
			return w.block(name, nil, func(w *writer) error {
				return e.freeBody(w, path, v, false, true)
			})
		case et.Kind() == reflect.String || (et.Kind() == reflect.Slice && et.Elem().Kind() == reflect.String):
			return e.mapBlock(w, path, name, v)
		case et.Kind() == reflect.Struct || (et.Kind() == reflect.Pointer && et.Elem().Kind() == reflect.Struct):
			return e.labeledMap(w, path, name, v)
		}
	}
	return fmt.Errorf("%s: unsupported block type %s", path, t)
}

func (e *encoder) structBlock(w *writer, path, name string, v reflect.Value) error {
	labels, err := labelsOf(path, v)
	if err != nil {
		return err
	}
	return w.block(name, labels, func(w *writer) error {
		return e.structBody(w, path, v)
	})
}

func labelsOf(path string, v reflect.Value) ([]string, error) {
	var labels []string
	for _, s := range specsFor(v.Type()) {
		if s.kind != kindLabel {
			continue
		}
		f := v.Field(s.index)
		if f.Kind() == reflect.Pointer {
			if f.IsNil() {
				return nil, fmt.Errorf("%s.%s: block label is nil", path, s.goName)
			}
			f = f.Elem()
		}
		if err := checkNFC(f.String()); err != nil {
			return nil, fmt.Errorf("%s.%s: %w", path, s.goName, err)
		}
		labels = append(labels, f.String())
	}
	return labels, nil
}

// mapBlock writes a map[string]string (or map[string][]string, for check
// headers) as a block of attributes. The parser reads these with block
// syntax only, so every key must be an identifier.
func (e *encoder) mapBlock(w *writer, path, name string, v reflect.Value) error {
	keys := sortedKeys(v)
	for _, k := range keys {
		if !validIdentifier(k) {
			return fmt.Errorf("%s: key %q is not an HCL identifier, and the jobspec only accepts %s as a block", path, k, name)
		}
		if err := checkNFC(k); err != nil {
			return fmt.Errorf("%s: key: %w", path, err)
		}
	}
	return w.block(name, nil, func(w *writer) error {
		for _, k := range keys {
			if err := e.attr(w, path+"."+k, k, v.MapIndex(reflect.ValueOf(k))); err != nil {
				return err
			}
		}
		return nil
	})
}

// labeledMap writes map[string]*T as one labeled block per key (group
// volumes, gateway bind addresses); the parser copies the label into T's
// label field, so the two must agree.
func (e *encoder) labeledMap(w *writer, path, name string, v reflect.Value) error {
	for _, k := range sortedKeys(v) {
		el := v.MapIndex(reflect.ValueOf(k))
		epath := fmt.Sprintf("%s[%q]", path, k)
		if el.Kind() == reflect.Pointer {
			if el.IsNil() {
				return fmt.Errorf("%s: nil element", epath)
			}
			el = el.Elem()
		}
		labels, err := labelsOf(epath, el)
		if err != nil {
			return err
		}
		if len(labels) != 1 || labels[0] != k {
			return fmt.Errorf("%s: label field %q must equal the map key", epath, strings.Join(labels, " "))
		}
		if err := w.block(name, labels, func(w *writer) error { return e.structBody(w, epath, el) }); err != nil {
			return err
		}
	}
	return nil
}

func sortedKeys(m reflect.Value) []string {
	keys := make([]string, 0, m.Len())
	for _, k := range m.MapKeys() {
		keys = append(keys, k.String())
	}
	sort.Strings(keys)
	return keys
}

// --- values ---------------------------------------------------------------

// toCty converts an attribute value. Maps become objects, whose keys cty
// iterates in sorted order, so the output is deterministic.
func toCty(v reflect.Value) (cty.Value, error) {
	if !v.IsValid() {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	switch v.Kind() {
	case reflect.Interface, reflect.Pointer:
		if v.IsNil() {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		return toCty(v.Elem())
	case reflect.String:
		if err := checkNFC(v.String()); err != nil {
			return cty.NilVal, err
		}
		return cty.StringVal(v.String()), nil
	case reflect.Bool:
		return cty.BoolVal(v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if v.Type() == durationType {
			return cty.StringVal(FormatDuration(time.Duration(v.Int()))), nil
		}
		return cty.NumberIntVal(v.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cty.NumberUIntVal(v.Uint()), nil
	case reflect.Float32, reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return cty.NilVal, fmt.Errorf("number %v has no HCL literal", f)
		}
		return cty.NumberFloatVal(f), nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return cty.NilVal, fmt.Errorf("byte slices have no HCL literal")
		}
		if v.Len() == 0 {
			return cty.EmptyTupleVal, nil
		}
		elems := make([]cty.Value, v.Len())
		for i := range elems {
			ev, err := toCty(v.Index(i))
			if err != nil {
				return cty.NilVal, fmt.Errorf("[%d]: %w", i, err)
			}
			elems[i] = ev
		}
		return cty.TupleVal(elems), nil
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return cty.NilVal, fmt.Errorf("map with %s keys has no HCL literal", v.Type().Key())
		}
		if v.Len() == 0 {
			return cty.EmptyObjectVal, nil
		}
		attrs := make(map[string]cty.Value, v.Len())
		for _, k := range v.MapKeys() {
			if err := checkNFC(k.String()); err != nil {
				return cty.NilVal, fmt.Errorf("key: %w", err)
			}
			ev, err := toCty(v.MapIndex(k))
			if err != nil {
				return cty.NilVal, fmt.Errorf("[%q]: %w", k.String(), err)
			}
			attrs[k.String()] = ev
		}
		return cty.ObjectVal(attrs), nil
	}
	return cty.NilVal, fmt.Errorf("value of type %s has no HCL literal", v.Type())
}

// stringTokens writes s as a quoted string, or as an indented heredoc when
// it is newline-terminated multi-line text such as template data. Both
// escape `${` and `%{` as `$${` and `%%{`, so Nomad interpolations reach the
// job as literal text, exactly as they are in Go.
func stringTokens(s string, depth int) hclwrite.Tokens {
	if toks, ok := heredocTokens(s, depth); ok {
		return toks
	}
	return hclwrite.TokensForValue(cty.StringVal(s))
}

func heredocTokens(s string, depth int) (hclwrite.Tokens, bool) {
	if !strings.HasSuffix(s, "\n") || len(s) < 2 {
		return nil, false
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && (r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == 0x85) {
			return nil, false
		}
	}
	lines := strings.SplitAfter(s, "\n")
	lines = lines[:len(lines)-1] // SplitAfter leaves "" after the final newline
	for _, l := range lines {
		// Trailing blanks are invisible in review and stripped by editors;
		// a quoted string shows them.
		if t := strings.TrimSuffix(l, "\n"); strings.TrimRight(t, " \t") != t {
			return nil, false
		}
	}
	// A flush heredoc (<<-) strips the smallest indentation of its non-blank
	// lines. Indenting every non-blank line by the same amount is undone
	// exactly only if some line already starts at column zero.
	flush := false
	for _, l := range lines {
		if strings.TrimSpace(l) != "" && !strings.HasPrefix(l, " ") && !strings.HasPrefix(l, "\t") {
			flush = true
			break
		}
	}
	if !flush {
		return nil, false
	}
	marker := ""
	for _, m := range []string{"EOT", "EOF", "EOH", "END"} {
		clash := false
		for _, l := range lines {
			if strings.TrimSpace(l) == m {
				clash = true
				break
			}
		}
		if !clash {
			marker = m
			break
		}
	}
	if marker == "" {
		return nil, false
	}
	indent := strings.Repeat("  ", depth)
	toks := hclwrite.Tokens{{Type: hclsyntax.TokenOHeredoc, Bytes: []byte("<<-" + marker + "\n")}}
	var src bytes.Buffer
	src.WriteString("<<-" + marker + "\n")
	for _, l := range lines {
		text := escapeTemplate(l)
		if strings.TrimSpace(l) != "" {
			text = indent + "  " + text
		}
		toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenStringLit, Bytes: []byte(text)})
		src.WriteString(text)
	}
	toks = append(toks, &hclwrite.Token{Type: hclsyntax.TokenCHeredoc, Bytes: []byte(indent + marker)})
	src.WriteString(indent + marker + "\n")
	// Belt and braces: the heredoc must read back as s, or we fall back to a
	// quoted string.
	if !heredocReadsBack(src.Bytes(), toks[1:len(toks)-1], s) {
		return nil, false
	}
	return toks, true
}

// heredocReadsBack reports whether HCL reads the flush heredoc src, whose
// line tokens are lines, as s. It lexes src as HCL's parser does and then
// takes the value the way the parser would (each literal token unescaped by
// ParseStringLiteralToken, the common leading space stripped as
// flushHeredocTemplateParts does, NFC), because the parser itself joins a
// heredoc's parts by repeated concatenation, which for template data was
// half of rendering's memory. TestHeredocReadsBack holds it to the
// parser's answer.
func heredocReadsBack(src []byte, lines hclwrite.Tokens, s string) bool {
	lexed, diags := hclsyntax.LexExpression(src, "heredoc", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() || len(lexed) < 2 || lexed[0].Type != hclsyntax.TokenOHeredoc {
		return false
	}
	var raw, want bytes.Buffer
	for _, l := range lines {
		want.Write(l.Bytes)
	}
	var parts []string
	var adjust []int
	minSpaces := math.MaxInt
	newline := true
	i := 1
	for ; i < len(lexed) && lexed[i].Type == hclsyntax.TokenStringLit; i++ {
		raw.Write(lexed[i].Bytes)
		v, diags := hclsyntax.ParseStringLiteralToken(lexed[i])
		if diags.HasErrors() {
			return false
		}
		if newline {
			newline = false
			trimmed := strings.TrimLeftFunc(v, unicode.IsSpace)
			if trimmed != "" || !strings.HasSuffix(v, "\n") {
				minSpaces = min(minSpaces, graphemes([]byte(v[:len(v)-len(trimmed)])))
				adjust = append(adjust, len(parts))
			}
		}
		if strings.HasSuffix(v, "\n") {
			newline = true
		}
		parts = append(parts, v)
	}
	if i >= len(lexed) || lexed[i].Type != hclsyntax.TokenCHeredoc || !bytes.Equal(raw.Bytes(), want.Bytes()) {
		return false
	}
	for _, t := range lexed[i+1:] {
		if t.Type != hclsyntax.TokenNewline && t.Type != hclsyntax.TokenEOF {
			return false
		}
	}
	for _, k := range adjust {
		if asciiBlanks(parts[k], minSpaces) {
			parts[k] = parts[k][minSpaces:]
			continue
		}
		b := []byte(parts[k])
		for range minSpaces {
			adv, _, _ := textseg.ScanGraphemeClusters(b, true)
			b = b[adv:]
		}
		parts[k] = string(b)
	}
	return cty.StringVal(strings.Join(parts, "")).AsString() == s
}

// asciiBlanks reports whether s starts with n ASCII spaces or tabs, each
// one grapheme cluster, followed by ASCII: the common case needs no
// segmentation.
func asciiBlanks(s string, n int) bool {
	if len(s) <= n {
		return false
	}
	for i := 0; i < n; i++ {
		if s[i] != ' ' && s[i] != '\t' {
			return false
		}
	}
	return s[n] < 0x80
}

func graphemes(b []byte) int {
	if i := bytes.IndexFunc(b, func(r rune) bool { return r >= 0x80 }); i < 0 {
		return len(b) // ASCII blanks: one cluster each (no CR here)
	}
	n := 0
	for len(b) > 0 {
		adv, _, _ := textseg.ScanGraphemeClusters(b, true)
		if adv == 0 {
			break
		}
		b = b[adv:]
		n++
	}
	return n
}

// checkNFC rejects text HCL cannot carry: cty, and so Nomad's parser,
// normalizes every string to Unicode NFC, so a decomposed "é" would come
// back composed.
func checkNFC(s string) error {
	if cty.NormalizeString(s) != s {
		return fmt.Errorf("string %q is not in Unicode normal form C, which HCL would impose", s)
	}
	return nil
}

// escapeTemplate doubles the template introducers, as HCL requires for a
// literal `${` or `%{`.
func escapeTemplate(s string) string {
	s = strings.ReplaceAll(s, "${", "$${")
	return strings.ReplaceAll(s, "%{", "%%{")
}

// FormatDuration writes d in the shortest form time.ParseDuration reads back
// exactly: "5m" rather than Go's "5m0s", "1h30m", "500ms".
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	s = strings.Replace(s, "h0m", "h", 1)
	return strings.Replace(s, "µs", "us", 1)
}
