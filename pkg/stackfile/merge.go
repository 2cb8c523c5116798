package stackfile

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// listBlocks are block types that form an ordered list rather than a set
// keyed by labels: they may repeat without labels, and an environment that
// writes any of them replaces the whole list, like a list attribute.
var listBlocks = map[string]bool{
	"step":       true,
	"validation": true,
}

// checkDuplicates reports, anywhere in the file, two blocks of the same
// type and labels in one body (two app "web", two resources in an app).
// It runs on the syntax tree before environments are merged, because
// merging would silently fold such duplicates into one.
func checkDuplicates(b *hclsyntax.Body) hcl.Diagnostics {
	var diags hcl.Diagnostics
	seen := map[string]*hclsyntax.Block{}
	for _, blk := range b.Blocks {
		diags = append(diags, checkDuplicates(blk.Body)...)
		if listBlocks[blk.Type] {
			continue
		}
		key := blockKey(blk.Type, blk.Labels)
		first, dup := seen[key]
		if !dup {
			seen[key] = blk
			continue
		}
		detail := fmt.Sprintf("Only one %s block is allowed here; the first one is at %s.", blk.Type, first.DefRange())
		if len(blk.Labels) > 0 {
			detail = fmt.Sprintf("%s %q was already declared at %s. Names must be unique: rename or remove one of them.",
				titleFirst(blk.Type), blk.Labels[0], first.DefRange())
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Duplicate %s block", blk.Type),
			Detail:   detail,
			Subject:  blk.DefRange().Ptr(),
		})
	}
	return diags
}

func titleFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// blockKey identifies a block for matching: NUL cannot appear in labels
// written in HCL, so it separates them unambiguously.
func blockKey(typ string, labels []string) string {
	return typ + "\x00" + strings.Join(labels, "\x00")
}

// mergeBody returns a new body with over applied on top of base; neither
// is modified, so a parsed file can be merged for several environments.
//
// Attributes in over replace base's whole (expressions keep their own
// source ranges, so diagnostics point into whichever block a value came
// from). A nested block matches the base block of the same type and
// labels and is merged recursively; one without a match is added. List
// blocks written in over replace all of base's of that type. The result
// keeps base's ranges, so "missing" diagnostics point at the base block.
func mergeBody(base, over *hclsyntax.Body) *hclsyntax.Body {
	out := &hclsyntax.Body{
		Attributes: make(hclsyntax.Attributes, len(base.Attributes)+len(over.Attributes)),
		SrcRange:   base.SrcRange,
		EndRange:   base.EndRange,
	}
	for k, v := range base.Attributes {
		out.Attributes[k] = v
	}
	for k, v := range over.Attributes {
		out.Attributes[k] = v
	}

	replaced := map[string]bool{}
	for _, ob := range over.Blocks {
		if listBlocks[ob.Type] {
			replaced[ob.Type] = true
		}
	}
	out.Blocks = make(hclsyntax.Blocks, 0, len(base.Blocks)+len(over.Blocks))
	for _, bb := range base.Blocks {
		if !replaced[bb.Type] {
			out.Blocks = append(out.Blocks, bb)
		}
	}
	for _, ob := range over.Blocks {
		if listBlocks[ob.Type] {
			out.Blocks = append(out.Blocks, ob)
			continue
		}
		if i := findBlock(out.Blocks, ob.Type, ob.Labels); i >= 0 {
			merged := *out.Blocks[i]
			merged.Body = mergeBody(out.Blocks[i].Body, ob.Body)
			out.Blocks[i] = &merged
			continue
		}
		out.Blocks = append(out.Blocks, ob)
	}
	return out
}

func findBlock(blocks hclsyntax.Blocks, typ string, labels []string) int {
	key := blockKey(typ, labels)
	for i, b := range blocks {
		if blockKey(b.Type, b.Labels) == key {
			return i
		}
	}
	return -1
}

// envSchema lists what an environment block may override.
var envSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
	labelled("stack"),
	labelled("app"),
	labelled("database"),
	labelled("notifier"),
	single("ingress"),
	single("monitoring"),
}}

// mustExist are the top-level block types an environment may only
// override, not introduce: an app or database that exists in one
// environment only is more likely a typo than a design, and the base must
// stay a complete stack on its own.
var mustExist = map[string]bool{"app": true, "database": true, "stack": true}

// applyEnvironment merges the environment block env into the top-level
// blocks and returns the new list.
func (d *decoder) applyEnvironment(top hcl.Blocks, env *hcl.Block) hcl.Blocks {
	content, diags := env.Body.Content(envSchema)
	d.add(diags...)
	out := make(hcl.Blocks, len(top))
	copy(out, top)
	for _, ob := range content.Blocks {
		i := -1
		for j, bb := range out {
			if blockKey(bb.Type, bb.Labels) == blockKey(ob.Type, ob.Labels) {
				i = j
				break
			}
		}
		if i < 0 {
			if mustExist[ob.Type] {
				d.add(undeclaredOverride(top, env, ob))
				continue
			}
			out = append(out, ob)
			continue
		}
		baseSyn, ok1 := out[i].Body.(*hclsyntax.Body)
		overSyn, ok2 := ob.Body.(*hclsyntax.Body)
		if !ok1 || !ok2 {
			continue
		}
		merged := *out[i]
		merged.Body = mergeBody(baseSyn, overSyn)
		out[i] = &merged
	}
	return out
}

func undeclaredOverride(top hcl.Blocks, env, ob *hcl.Block) *hcl.Diagnostic {
	var names []string
	for _, b := range top {
		if b.Type == ob.Type && len(b.Labels) > 0 {
			names = append(names, fmt.Sprintf("%q", b.Labels[0]))
		}
	}
	declared := "The base configuration declares none."
	if len(names) > 0 {
		declared = fmt.Sprintf("Declared: %s.", strings.Join(names, ", "))
	}
	name := ""
	if len(ob.Labels) > 0 {
		name = fmt.Sprintf(" %q", ob.Labels[0])
	}
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Override of undeclared %s", ob.Type),
		Detail: fmt.Sprintf("Environment %q overrides %s%s, which the base configuration does not declare. An environment can only change what the base declares: declare the %s outside the environment block, or fix the name. %s",
			env.Labels[0], ob.Type, name, ob.Type, declared),
		Subject: ob.DefRange.Ptr(),
	}
}
