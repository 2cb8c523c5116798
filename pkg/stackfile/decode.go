package stackfile

import (
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/agext/levenshtein"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// decoder turns merged syntax bodies into the model. It is hand-written
// rather than gohcl-driven because the model needs things struct tags
// cannot express: the source range of every attribute (for diagnostics
// that outlive loading), null meaning "unset" so environments can remove
// a base attribute, durations and enums with hints, and inline-secret
// detection.
type decoder struct {
	ctx  *hcl.EvalContext
	vars map[string]bool // declared variable names, for reference checks
	// sensitive variables' values must not appear in diagnostics, which
	// HCL would otherwise print for every variable an expression uses.
	sensitive map[string]bool
	// listElems keeps the element ranges of list literals by the range of
	// the whole list, so rules checked after decoding can point at one
	// element (the undeclared name in notify = [...]).
	listElems map[hcl.Range][]hcl.Range
	diags     hcl.Diagnostics
}

func (d *decoder) add(diags ...*hcl.Diagnostic) {
	for _, diag := range diags {
		if diag.Expression != nil && diag.EvalContext != nil && d.usesSensitive(diag.Expression) {
			diag.EvalContext = nil
		}
	}
	d.diags = append(d.diags, diags...)
}

func (d *decoder) usesSensitive(expr hcl.Expression) bool {
	for _, t := range expr.Variables() {
		if t.RootName() != "var" || len(t) < 2 {
			continue
		}
		if a, ok := t[1].(hcl.TraverseAttr); ok && d.sensitive[a.Name] {
			return true
		}
	}
	return false
}

func (d *decoder) errorf(rng hcl.Range, summary, format string, args ...any) {
	r := rng
	d.add(&hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: &r})
}

// body is one block being decoded: its schema-checked content, plus the
// ranges of the attributes read so far, which end up in the model's Attrs.
type body struct {
	d      *decoder
	kind   string    // block type, for messages
	def    hcl.Range // block header; where "missing" diagnostics point
	attrs  hcl.Attributes
	blocks hcl.Blocks
	ranges Ranges
	failed map[string]bool
}

// blockSchema lists a block's attributes and nested blocks. Every
// attribute is optional at the HCL level: required ones are checked by
// need(), whose diagnostic points at the block header instead of HCL's
// opening brace and which understands null as unset.
func blockSchema(attrs []string, blocks ...hcl.BlockHeaderSchema) *hcl.BodySchema {
	s := &hcl.BodySchema{Blocks: blocks}
	for _, a := range attrs {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: a})
	}
	return s
}

func labelled(typ string) hcl.BlockHeaderSchema {
	return hcl.BlockHeaderSchema{Type: typ, LabelNames: []string{"name"}}
}

func single(typ string) hcl.BlockHeaderSchema { return hcl.BlockHeaderSchema{Type: typ} }

// open checks blk against schema. A nil blk yields an empty body whose
// "missing" diagnostics point at fallback, so absent optional blocks decode
// to their defaults through the same code.
func (d *decoder) open(kind string, blk *hcl.Block, fallback hcl.Range, schema *hcl.BodySchema) *body {
	b := &body{d: d, kind: kind, def: fallback, attrs: hcl.Attributes{}, ranges: Ranges{}, failed: map[string]bool{}}
	if blk == nil {
		return b
	}
	b.def = blk.DefRange
	hb := blk.Body
	if syn, ok := hb.(*hclsyntax.Body); ok {
		hb = d.stripInlineSecrets(kind, syn, schema)
	}
	content, diags := hb.Content(schema)
	d.add(diags...)
	b.attrs, b.blocks = content.Attributes, content.Blocks
	return b
}

// secretName matches attribute names that would hold a secret value.
var secretName = regexp.MustCompile(`(^|_)(url|key|password|passwd|token|secret)$`)

// stripInlineSecrets reports secret-looking attributes the schema does not
// know with a dedicated diagnostic instead of HCL's "Unsupported
// argument": the fix is not a spelling one but a reference to Vault or an
// environment variable. The attribute is removed from a copy of the body
// so Content does not report it a second time.
func (d *decoder) stripInlineSecrets(kind string, syn *hclsyntax.Body, schema *hcl.BodySchema) *hclsyntax.Body {
	known := map[string]bool{}
	for _, a := range schema.Attributes {
		known[a.Name] = true
	}
	var strip []string
	for name := range syn.Attributes {
		if !known[name] && secretName.MatchString(name) {
			strip = append(strip, name)
		}
	}
	if len(strip) == 0 {
		return syn
	}
	sort.Strings(strip)
	cp := *syn
	cp.Attributes = make(hclsyntax.Attributes, len(syn.Attributes))
	for k, v := range syn.Attributes {
		cp.Attributes[k] = v
	}
	for _, name := range strip {
		attr := syn.Attributes[name]
		delete(cp.Attributes, name)
		var refs []string
		if known[name+"_vault"] {
			refs = append(refs, fmt.Sprintf(`%s_vault = "secret/data/<path>#<key>" (read from Vault when it is needed)`, name))
		}
		if known[name+"_env"] {
			refs = append(refs, fmt.Sprintf(`%s_env = "<ENV_VAR>" (read from hstack's environment)`, name))
		}
		hint := "this block takes no secrets: credentials come from Vault at run time."
		if len(refs) > 0 {
			hint = "reference it instead with " + strings.Join(refs, " or ") + "."
		}
		d.errorf(attr.SrcRange, "Inline secret",
			"%q would put a secret in the stack file, which is committed and printed in plans; %s", name, hint)
	}
	return &cp
}

// value evaluates attribute name and converts it to ty. It returns ok =
// false when the attribute is absent, null (which means unset, so an
// environment can remove a base attribute) or broken (diagnosed).
func (b *body) value(name string, ty cty.Type) (cty.Value, *hcl.Attribute, bool) {
	attr := b.attrs[name]
	if attr == nil {
		return cty.NilVal, nil, false
	}
	v, ok := b.d.eval(attr.Expr, ty, fmt.Sprintf("attribute %q", name))
	if !ok {
		b.failed[name] = true
		return cty.NilVal, attr, false
	}
	if v.IsNull() {
		return cty.NilVal, attr, false
	}
	b.ranges[name] = attr.Expr.Range()
	return v, attr, true
}

// eval evaluates expr and converts the result to ty. A value that is not
// wholly known can only come from a variable whose own error has already
// been reported, so it fails silently.
func (d *decoder) eval(expr hcl.Expression, ty cty.Type, what string) (cty.Value, bool) {
	if !d.checkRefs(expr) {
		return cty.NilVal, false
	}
	v, diags := expr.Value(d.ctx)
	d.add(diags...)
	if diags.HasErrors() || !v.IsWhollyKnown() {
		return cty.NilVal, false
	}
	if v.IsNull() {
		return v, true
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.add(&hcl.Diagnostic{
			Severity:    hcl.DiagError,
			Summary:     "Incorrect attribute value type",
			Detail:      fmt.Sprintf("Inappropriate value for %s: %s.", what, convertErrorText(err)),
			Subject:     expr.Range().Ptr(),
			Expression:  expr,
			EvalContext: d.ctx,
		})
		return cty.NilVal, false
	}
	return cv, true
}

// convertErrorText prefixes cty's message with the path into the value
// ("element 2: string required"), as Terraform does.
func convertErrorText(err error) string {
	pe, ok := err.(cty.PathError)
	if !ok || len(pe.Path) == 0 {
		return err.Error()
	}
	var sb strings.Builder
	for _, step := range pe.Path {
		switch s := step.(type) {
		case cty.GetAttrStep:
			fmt.Fprintf(&sb, ".%s", s.Name)
		case cty.IndexStep:
			switch s.Key.Type() {
			case cty.Number:
				bf := s.Key.AsBigFloat()
				fmt.Fprintf(&sb, "[%s]", bf.Text('f', -1))
			case cty.String:
				fmt.Fprintf(&sb, "[%q]", s.Key.AsString())
			}
		}
	}
	p := strings.TrimPrefix(sb.String(), ".")
	if p == "" {
		return err.Error()
	}
	return fmt.Sprintf("%s: %s", p, err.Error())
}

// checkRefs reports references to anything but declared variables and
// hstack.*, with Terraform's wording and a hint, before evaluation would
// produce HCL's terser messages.
func (d *decoder) checkRefs(expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		switch t.RootName() {
		case "var":
			if len(t) < 2 {
				continue
			}
			var name string
			switch s := t[1].(type) {
			case hcl.TraverseAttr:
				name = s.Name
			case hcl.TraverseIndex:
				if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
					name = s.Key.AsString()
				}
			}
			if name != "" && !d.vars[name] {
				rng := t.SourceRange()
				d.errorf(rng, "Reference to undeclared input variable",
					"An input variable with the name %q has not been declared. Declare it with a variable %q {} block.", name, name)
				ok = false
			}
		case "hstack":
		default:
			rng := t.SourceRange()
			d.errorf(rng, "Unknown variable",
				"There is no variable named %q. Expressions can use input variables as var.<name> and the selected environment as hstack.environment.", t.RootName())
			ok = false
		}
	}
	return ok
}

// need reports required attributes that are absent or null. Attributes
// whose value was broken were already diagnosed and are not reported again.
func (b *body) need(names ...string) {
	for _, name := range names {
		if _, set := b.ranges[name]; set || b.failed[name] {
			continue
		}
		b.d.errorf(b.def, "Missing required argument",
			"The argument %q is required in %s, but no definition was found.", name, article(b.kind))
	}
}

func article(kind string) string {
	if strings.ContainsRune("aeiou", rune(kind[0])) {
		return "an " + kind + " block"
	}
	return "a " + kind + " block"
}

func (b *body) has(name string) bool {
	_, ok := b.ranges[name]
	return ok
}

func (b *body) str(name string, dst *string) bool {
	v, _, ok := b.value(name, cty.String)
	if ok {
		*dst = v.AsString()
	}
	return ok
}

func (b *body) bool(name string, dst *bool) bool {
	v, _, ok := b.value(name, cty.Bool)
	if ok {
		*dst = v.True()
	}
	return ok
}

// int decodes a whole number within [lo, hi]; summary names the
// out-of-range error ("" = "Invalid <name>").
func (b *body) int(name string, dst *int, lo, hi int, summary string) bool {
	v, attr, ok := b.value(name, cty.Number)
	if !ok {
		return false
	}
	bf := v.AsBigFloat()
	i, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || i < math.MinInt32 || i > math.MaxInt32 {
		b.fail(name, attr, "Incorrect attribute value type", "Inappropriate value for attribute %q: a whole number is required.", name)
		return false
	}
	if int(i) < lo || int(i) > hi {
		if summary == "" {
			summary = "Invalid " + name
		}
		b.fail(name, attr, summary, "%s must be %s; got %d.", name, bounds(lo, hi), i)
		return false
	}
	*dst = int(i)
	return true
}

func bounds(lo, hi int) string {
	switch {
	case hi == math.MaxInt32:
		return fmt.Sprintf("at least %d", lo)
	case lo == math.MinInt32:
		return fmt.Sprintf("at most %d", hi)
	}
	return fmt.Sprintf("between %d and %d", lo, hi)
}

const unbounded = math.MaxInt32

func (b *body) float(name string, dst **float64) bool {
	v, attr, ok := b.value(name, cty.Number)
	if !ok {
		return false
	}
	f, _ := v.AsBigFloat().Float64()
	if math.IsInf(f, 0) || math.IsNaN(f) {
		b.fail(name, attr, "Incorrect attribute value type", "Inappropriate value for attribute %q: a finite number is required.", name)
		return false
	}
	*dst = &f
	return true
}

func (b *body) fail(name string, attr *hcl.Attribute, summary, format string, args ...any) {
	b.failed[name] = true
	delete(b.ranges, name)
	b.d.add(&hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     summary,
		Detail:      fmt.Sprintf(format, args...),
		Subject:     attr.Expr.Range().Ptr(),
		Expression:  attr.Expr,
		EvalContext: b.d.ctx,
	})
}

// strs decodes a list of strings. Null elements are errors: unlike a
// whole attribute, an element has no "unset" meaning.
func (b *body) strs(name string, dst *[]string) bool {
	v, attr, ok := b.value(name, cty.List(cty.String))
	if !ok {
		return false
	}
	out := make([]string, 0, v.LengthInt())
	for i, e := range v.AsValueSlice() {
		if e.IsNull() {
			b.d.errorf(elemRange(attr.Expr, i), "Invalid list element", "Element %d of %q is null; remove it or give it a value.", i, name)
			b.failed[name] = true
			delete(b.ranges, name)
			return false
		}
		out = append(out, e.AsString())
	}
	if tup, ok := attr.Expr.(*hclsyntax.TupleConsExpr); ok && b.d.listElems != nil {
		elems := make([]hcl.Range, len(tup.Exprs))
		for i, e := range tup.Exprs {
			elems[i] = e.Range()
		}
		b.d.listElems[attr.Expr.Range()] = elems
	}
	*dst = out
	return true
}

func (b *body) strMap(name string, dst *map[string]string) bool {
	v, attr, ok := b.value(name, cty.Map(cty.String))
	if !ok {
		return false
	}
	out := make(map[string]string, v.LengthInt())
	for k, e := range v.AsValueMap() {
		if e.IsNull() {
			b.fail(name, attr, "Invalid map element", "The value of key %q in %q is null; remove it or give it a value.", k, name)
			return false
		}
		out[k] = e.AsString()
	}
	*dst = out
	return true
}

// enum decodes a string that must be one of allowed.
func (b *body) enum(name string, dst *string, allowed ...string) bool {
	var s string
	if !b.str(name, &s) {
		return false
	}
	for _, a := range allowed {
		if s == a {
			*dst = s
			return true
		}
	}
	b.fail(name, b.attrs[name], "Invalid "+name, "%s must be %s; got %q.%s", name, oneOf(allowed), s, suggest(s, allowed))
	return false
}

func oneOf(allowed []string) string {
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = fmt.Sprintf("%q", a)
	}
	if len(q) == 1 {
		return q[0]
	}
	return "one of " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
}

// suggest returns " Did you mean "x"?" for the closest candidate within
// edit distance 2, like HCL's own suggestions.
func suggest(given string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if dist := levenshtein.Distance(given, c, nil); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" Did you mean %q?", best)
}

// durationRule says which durations an attribute accepts.
type durationRule int

const (
	positive    durationRule = iota // > 0
	nonNegative                     // >= 0
)

func (b *body) duration(name string, dst *time.Duration, rule durationRule) bool {
	var s string
	if !b.str(name, &s) {
		return false
	}
	attr := b.attrs[name]
	dur, err := ParseDuration(s)
	if err != nil {
		b.fail(name, attr, "Invalid duration", "%q is not a duration: %s. Write numbers with units, like \"90s\", \"5m\" or \"1h30m\"; the units are ms, s, m, h, d (24h) and w (7d).", s, err)
		return false
	}
	switch {
	case rule == positive && dur <= 0:
		b.fail(name, attr, "Duration must be positive", "%s must be longer than zero; got %q.", name, s)
		return false
	case rule == nonNegative && dur < 0:
		b.fail(name, attr, "Duration must not be negative", "%s must be zero or longer; got %q.", name, s)
		return false
	}
	*dst = dur
	return true
}

// ParseDuration parses Go durations ("1h30m", "250ms") and also accepts
// the units d (24h) and w (7d) that Prometheus retention and long TTLs
// are usually written in. Spaces and unit names like "minutes" are
// rejected.
func ParseDuration(s string) (time.Duration, error) {
	if !strings.ContainsAny(s, "dw") {
		d, err := time.ParseDuration(s)
		if err != nil {
			return 0, durationErr(s)
		}
		return d, nil
	}
	// Rewrite the d and w components as hours and let Go do the rest, so
	// both syntaxes share one parser and its overflow checks.
	var sb strings.Builder
	rest := s
	if strings.HasPrefix(rest, "-") || strings.HasPrefix(rest, "+") {
		sb.WriteByte(rest[0])
		rest = rest[1:]
	}
	for rest != "" {
		m := durationToken.FindStringSubmatchIndex(rest)
		if m == nil || m[0] != 0 || m[3] == m[2] {
			return 0, durationErr(s)
		}
		num, unit := rest[m[2]:m[3]], rest[m[4]:m[5]]
		switch unit {
		case "d", "w":
			f, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, durationErr(s)
			}
			hours := f * 24
			if unit == "w" {
				hours *= 7
			}
			if hours > float64(math.MaxInt64/int64(time.Hour)) {
				return 0, fmt.Errorf("it is too long")
			}
			sb.WriteString(strconv.FormatFloat(hours, 'f', -1, 64) + "h")
		default:
			sb.WriteString(num + unit)
		}
		rest = rest[m[1]:]
	}
	d, err := time.ParseDuration(sb.String())
	if err != nil {
		return 0, durationErr(s)
	}
	return d, nil
}

var durationToken = regexp.MustCompile(`^([0-9]*\.?[0-9]*)([a-zµμ]+)`)

func durationErr(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("it is empty")
	}
	if strings.ContainsAny(s, " \t") {
		return fmt.Errorf("it contains spaces")
	}
	return fmt.Errorf("the units or numbers are not recognised")
}

// elemRange points at element i of a list literal when the expression is
// one, and at the whole expression otherwise (a function call, a variable).
func elemRange(expr hcl.Expression, i int) hcl.Range {
	if tup, ok := expr.(*hclsyntax.TupleConsExpr); ok && i < len(tup.Exprs) {
		return tup.Exprs[i].Range()
	}
	return expr.Range()
}

// blocksOf returns the nested blocks of type typ in file order.
func (b *body) blocksOf(typ string) []*hcl.Block {
	var out []*hcl.Block
	for _, blk := range b.blocks {
		if blk.Type == typ {
			out = append(out, blk)
		}
	}
	return out
}

// block returns the nested block of type typ, or nil. Duplicates were
// already reported by checkDuplicates, so the first one wins.
func (b *body) block(typ string) *hcl.Block {
	for _, blk := range b.blocks {
		if blk.Type == typ {
			return blk
		}
	}
	return nil
}

// Name rules. Apps and the stack become Nomad job and Consul service
// names, which must be DNS labels; ports become parts of environment
// variable names (NOMAD_PORT_<label>).
var (
	dnsLabel  = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	plainName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
	portLabel = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
	envName   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	vaultRef  = regexp.MustCompile(`^([^#\s/][^#\s]*)#([^#\s]+)$`)
)

// IsDNSLabel reports whether s can be a Nomad job or Consul service name
// that resolves in DNS, by the rule app and stack names are checked with.
func IsDNSLabel(s string) bool { return dnsLabel.MatchString(s) }

var nameRules = map[*regexp.Regexp]string{
	dnsLabel:  "lowercase letters, digits and hyphens, starting and ending with a letter or digit, at most 63 characters (it becomes a Nomad job and Consul service name)",
	plainName: "a letter followed by letters, digits, hyphens or underscores, at most 63 characters",
	portLabel: "letters, digits and underscores, not starting with a digit (it becomes part of NOMAD_PORT_<label>)",
}

// checkLabel validates the name label of blk; blocks with a missing label
// were already reported by Content and are skipped.
func (d *decoder) checkLabel(blk *hcl.Block, re *regexp.Regexp) bool {
	if blk == nil || len(blk.Labels) == 0 {
		return false
	}
	if re.MatchString(blk.Labels[0]) {
		return true
	}
	d.errorf(blk.LabelRanges[0], "Invalid "+blk.Type+" name",
		"%q is not a valid %s name: use %s.", blk.Labels[0], blk.Type, nameRules[re])
	return false
}

// vaultSecret decodes a "path#key" Vault reference.
func (b *body) vaultSecret(name string) *SecretRef {
	var s string
	if !b.str(name, &s) {
		return nil
	}
	m := vaultRef.FindStringSubmatch(s)
	if m == nil {
		b.fail(name, b.attrs[name], "Invalid Vault reference",
			"%q is not a Vault reference: write \"<path>#<key>\", like \"secret/data/hooks#ops_url\": the path of a KV secret (with data/ for KV version 2) and the key inside it.", s)
		return nil
	}
	return &SecretRef{VaultPath: m[1], VaultKey: m[2]}
}

// envSecret decodes the name of an environment variable.
func (b *body) envSecret(name string) *SecretRef {
	var s string
	if !b.str(name, &s) {
		return nil
	}
	if !envName.MatchString(s) {
		b.fail(name, b.attrs[name], "Invalid environment variable name",
			"%q is not an environment variable name: use letters, digits and underscores, not starting with a digit. It names the variable that holds the secret, not the secret itself.", s)
		return nil
	}
	return &SecretRef{Env: s}
}
