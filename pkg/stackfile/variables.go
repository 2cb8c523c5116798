package stackfile

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix prefixes the environment variables that set input
// variables: HSTACK_VAR_image_tag sets var.image_tag.
const EnvVarPrefix = "HSTACK_VAR_"

var variableSchema = blockSchema([]string{"type", "default", "description", "sensitive"}, single("validation"))

var validationSchema = blockSchema([]string{"condition", "error_message"})

type varDecl struct {
	v        *Variable
	defaults *typeexpr.Defaults
	// literal: -var and HSTACK_VAR_ values are taken as strings, not HCL
	// expressions, as in Terraform for primitive (and absent) types.
	literal     bool
	validations []*hcl.Block
	broken      bool
	set         bool // a value was given (before the default applies)
}

// declareVariables decodes the variable blocks. Type, default and the
// other meta-arguments are constants: they are evaluated without
// variables or functions, as in Terraform.
func (d *decoder) declareVariables(blocks hcl.Blocks) []*varDecl {
	var decls []*varDecl
	for _, blk := range blocks {
		if len(blk.Labels) == 0 {
			continue
		}
		name := blk.Labels[0]
		decl := &varDecl{v: &Variable{Name: name, Type: cty.DynamicPseudoType, DeclRange: blk.DefRange}, literal: true}
		decls = append(decls, decl)
		if !hclsyntax.ValidIdentifier(name) {
			d.errorf(blk.LabelRanges[0], "Invalid variable name",
				"%q is not a valid variable name: it must start with a letter or underscore and contain only letters, digits, underscores and hyphens.", name)
			decl.broken = true
		}
		content, diags := blk.Body.Content(variableSchema)
		d.add(diags...)
		if attr, ok := content.Attributes["type"]; ok {
			ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
			d.add(diags...)
			if diags.HasErrors() {
				decl.broken = true
			} else {
				decl.v.Type, decl.defaults = ty, defaults
				decl.literal = ty.IsPrimitiveType()
			}
		}
		if attr, ok := content.Attributes["description"]; ok {
			if v, ok := d.constant(attr, cty.String); ok && !v.IsNull() {
				decl.v.Description = v.AsString()
			}
		}
		if attr, ok := content.Attributes["sensitive"]; ok {
			if v, ok := d.constant(attr, cty.Bool); ok && !v.IsNull() {
				decl.v.Sensitive = v.True()
			}
		}
		if attr, ok := content.Attributes["default"]; ok {
			v, diags := attr.Expr.Value(nil)
			d.add(diags...)
			if diags.HasErrors() {
				decl.broken = true
			} else if !decl.broken {
				cv, err := decl.convert(v)
				if err != nil {
					d.add(&hcl.Diagnostic{
						Severity: hcl.DiagError,
						Summary:  "Invalid default value for variable",
						Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", convertErrorText(err)),
						Subject:  attr.Expr.Range().Ptr(),
					})
					decl.broken = true
				} else {
					decl.v.Default = cv
					decl.v.SourceRange = attr.Expr.Range()
				}
			}
		}
		for _, vb := range content.Blocks {
			vc, diags := vb.Body.Content(validationSchema)
			d.add(diags...)
			for _, req := range []string{"condition", "error_message"} {
				if _, ok := vc.Attributes[req]; !ok {
					d.errorf(vb.DefRange, "Missing required argument", "The argument %q is required in a validation block, but no definition was found.", req)
				}
			}
			decl.validations = append(decl.validations, vb)
		}
	}
	return decls
}

// constant evaluates a meta-argument that may not refer to anything.
func (d *decoder) constant(attr *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	v, diags := attr.Expr.Value(nil)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		d.errorf(attr.Expr.Range(), "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", attr.Name, convertErrorText(err))
		return cty.NilVal, false
	}
	return cv, true
}

func (decl *varDecl) convert(v cty.Value) (cty.Value, error) {
	if decl.defaults != nil {
		v = decl.defaults.Apply(v)
	}
	return convert.Convert(v, decl.v.Type)
}

// resolveVariables gives every declaration its value, with Terraform's
// precedence: default < HSTACK_VAR_<name> < -var-file (in order) < -var
// (in order). It returns the var object for the evaluation context; a
// variable without a usable value is unknown there, so expressions using
// it fail quietly instead of repeating the error.
func (d *decoder) resolveVariables(decls []*varDecl, opts LoadOptions, p *hclparse.Parser) cty.Value {
	byName := map[string]*varDecl{}
	for _, decl := range decls {
		byName[decl.v.Name] = decl
	}
	values := map[string]cty.Value{}
	set := func(decl *varDecl, v cty.Value, src ValueSource, rng hcl.Range) {
		values[decl.v.Name] = v
		decl.v.Source, decl.v.SourceRange = src, rng
		decl.set = true
	}

	getenv := opts.Getenv
	if getenv == nil {
		getenv = osGetenv
	}
	for _, decl := range decls {
		raw := getenv(EnvVarPrefix + decl.v.Name)
		if raw == "" {
			continue
		}
		filename := fmt.Sprintf("<value for var.%s from %s%s>", decl.v.Name, EnvVarPrefix, decl.v.Name)
		if v, rng, ok := d.parseRawValue(decl, raw, filename, p); ok {
			set(decl, v, SourceEnv, rng)
		}
	}

	for _, path := range opts.VarFiles {
		for _, attr := range d.varFile(path, p) {
			decl := byName[attr.Name]
			if decl == nil {
				d.errorf(attr.NameRange, "Value for undeclared variable",
					"The var file %s assigns %q, but the stack file declares no variable %q. Declare it with a variable %q {} block, or remove the assignment.%s",
					path, attr.Name, attr.Name, attr.Name, suggest(attr.Name, slices.Sorted(maps.Keys(byName))))
				continue
			}
			v, diags := attr.Expr.Value(nil)
			d.add(diags...)
			if !diags.HasErrors() {
				set(decl, v, SourceVarFile, attr.Expr.Range())
			}
		}
	}

	for _, raw := range opts.Vars {
		name, val, ok := strings.Cut(raw, "=")
		if !ok || name == "" {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The option %q is not a variable name and value separated by an equals sign, like -var \"image_tag=1.2.0\".", raw),
			})
			continue
		}
		decl := byName[name]
		if decl == nil {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("A variable named %q was assigned on the command line, but the stack file declares no variable %q. Declare it with a variable %q {} block, or remove the option.%s",
					name, name, name, suggest(name, slices.Sorted(maps.Keys(byName)))),
			})
			continue
		}
		if v, rng, ok := d.parseRawValue(decl, val, fmt.Sprintf("<value for var.%s>", name), p); ok {
			set(decl, v, SourceCLI, rng)
		}
	}

	for _, decl := range decls {
		v := decl.v
		if decl.broken {
			values[v.Name] = cty.DynamicVal
			continue
		}
		raw, given := values[v.Name]
		if !given {
			if v.Default == cty.NilVal {
				d.add(&hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "No value for required variable",
					Detail: fmt.Sprintf("The stack file declares variable %q without a default, and no value was given. Set it with -var \"%s=...\", in a -var-file, or with the environment variable %s%s.",
						v.Name, v.Name, EnvVarPrefix, v.Name),
					Subject: v.DeclRange.Ptr(),
				})
				values[v.Name] = cty.DynamicVal
				continue
			}
			v.Value, v.Source = v.Default, SourceDefault
			values[v.Name] = v.Default
			continue
		}
		cv, err := decl.convert(raw)
		if err != nil {
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for input variable",
				Detail:   fmt.Sprintf("The value given for var.%s (declared at %s) is not suitable: %s.", v.Name, v.DeclRange, convertErrorText(err)),
				Subject:  v.SourceRange.Ptr(),
			})
			values[v.Name] = cty.DynamicVal
			continue
		}
		v.Value = cv
		values[v.Name] = cv
	}
	return cty.ObjectVal(values)
}

// parseRawValue interprets a -var or HSTACK_VAR_ value. The text is
// registered with the parser under a pseudo file name so diagnostics about
// it can show it like a source snippet.
func (d *decoder) parseRawValue(decl *varDecl, raw, filename string, p *hclparse.Parser) (cty.Value, hcl.Range, bool) {
	src := []byte(raw)
	p.AddFile(filename, &hcl.File{Body: hcl.EmptyBody(), Bytes: src})
	rng := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.Pos{Line: 1, Column: len(raw) + 1, Byte: len(raw)}}
	if decl.literal {
		return cty.StringVal(raw), rng, true
	}
	expr, diags := hclsyntax.ParseExpression(src, filename, hcl.InitialPos)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, rng, false
	}
	v, diags := expr.Value(nil)
	d.add(diags...)
	if diags.HasErrors() {
		return cty.NilVal, rng, false
	}
	return v, expr.Range(), true
}

// varFile reads a -var-file: HCL native syntax, or JSON when the name ends
// in .json, as with Terraform's .tfvars and .tfvars.json. Attributes are
// returned in file order so diagnostics come out deterministically.
func (d *decoder) varFile(path string, p *hclparse.Parser) []*hcl.Attribute {
	var f *hcl.File
	var diags hcl.Diagnostics
	if strings.HasSuffix(path, ".json") {
		f, diags = p.ParseJSONFile(path)
	} else {
		f, diags = p.ParseHCLFile(path)
	}
	d.add(diags...)
	if f == nil || diags.HasErrors() {
		return nil
	}
	attrs, diags := f.Body.JustAttributes()
	d.add(diags...)
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Range.Start.Byte < out[j].Range.Start.Byte })
	return out
}

// checkValidations runs the variables' validation blocks once every value
// is known, so conditions may refer to other variables (Terraform 1.9+).
func (d *decoder) checkValidations(decls []*varDecl) {
	for _, decl := range decls {
		if !decl.v.Value.IsKnown() || decl.v.Value == cty.NilVal {
			continue
		}
		for _, vb := range decl.validations {
			attrs, _ := vb.Body.JustAttributes()
			cond, msg := attrs["condition"], attrs["error_message"]
			if cond == nil || msg == nil {
				continue
			}
			ok, valid := d.eval(cond.Expr, cty.Bool, "the validation condition")
			if !valid || ok.IsNull() {
				continue
			}
			if ok.True() {
				continue
			}
			text := "The value is not valid."
			if m, valid := d.eval(msg.Expr, cty.String, "the error message"); valid && !m.IsNull() {
				text = m.AsString()
			}
			subject := decl.v.SourceRange
			if subject.Filename == "" {
				subject = cond.Expr.Range()
			}
			d.add(&hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail:   fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s.", text, cond.Expr.Range()),
				Subject:  subject.Ptr(),
			})
		}
	}
}
