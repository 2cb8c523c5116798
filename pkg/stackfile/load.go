package stackfile

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// DefaultFile is the stack file's conventional name.
const DefaultFile = "hstack.hcl"

// osGetenv is what a nil LoadOptions.Getenv means.
var osGetenv = os.Getenv

// LoadOptions select the environment and give values to input variables.
type LoadOptions struct {
	// Env is the environment to resolve, "" for the base configuration
	// alone. Naming an environment the file does not declare is an error.
	Env string
	// Vars are -var options, "name=value", applied last and in order.
	// Values of variables with a primitive type (or none) are taken
	// literally; others are parsed as HCL expressions ("[\"a\", \"b\"]").
	Vars []string
	// VarFiles are -var-file paths, applied in order after the
	// environment and before Vars: HCL like Terraform's .tfvars, or JSON
	// when the name ends in .json.
	VarFiles []string
	// Getenv reads HSTACK_VAR_<name> variables, the lowest-precedence
	// source after defaults. nil means os.Getenv.
	Getenv func(string) string
	// Parser parses the stack file and var files when set. Callers that
	// print diagnostics pass one and then hand Parser.Files() to
	// hcl.NewDiagnosticTextWriter, which needs the sources for its
	// snippets (-var values are registered as pseudo files too). The
	// parser caches by file name, so reuse one only for the same sources.
	Parser *hclparse.Parser
}

// Load reads, resolves and validates the stack file at path for
// opts.Env. On success the diagnostics hold at most warnings. On error
// the Stack is nil and the diagnostics hold every problem found, each
// with the file, line and column it is about and a hint, sorted by
// position.
func Load(path string, opts LoadOptions) (*Stack, hcl.Diagnostics) {
	p := opts.Parser
	if p == nil {
		p = hclparse.NewParser()
	}
	f, diags := p.ParseHCLFile(path)
	if diags.HasErrors() {
		return nil, diags
	}
	return load(f, path, opts, p)
}

// Parse is Load on a stack file already in memory; filename is used in
// diagnostics and as the base for relative paths.
func Parse(src []byte, filename string, opts LoadOptions) (*Stack, hcl.Diagnostics) {
	p := opts.Parser
	if p == nil {
		p = hclparse.NewParser()
	}
	f, diags := p.ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	return load(f, filename, opts, p)
}

func load(f *hcl.File, filename string, opts LoadOptions, p *hclparse.Parser) (*Stack, hcl.Diagnostics) {
	syn, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		// Only ParseHCL's native syntax supports environment merging.
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Unsupported stack file syntax",
			Detail:   "The stack file must be written in HCL native syntax.",
		}}
	}
	d := &decoder{vars: map[string]bool{}, sensitive: map[string]bool{}, listElems: map[hcl.Range][]hcl.Range{}}
	d.add(checkDuplicates(syn)...)
	content, diags := syn.Content(fileSchema)
	d.add(diags...)

	s := &Stack{Filename: filename, Dir: filepath.Dir(filename), Environment: opts.Env}
	if abs, err := filepath.Abs(s.Dir); err == nil {
		s.Dir = abs
	}

	var top hcl.Blocks
	var envs []*hcl.Block
	var varBlocks hcl.Blocks
	for _, blk := range content.Blocks {
		switch blk.Type {
		case "variable":
			varBlocks = append(varBlocks, blk)
		case "environment":
			d.checkLabel(blk, plainName)
			envs = append(envs, blk)
			s.Environments = append(s.Environments, blk.Labels[0])
		default:
			top = append(top, blk)
		}
	}

	decls := d.declareVariables(varBlocks)
	for _, decl := range decls {
		d.vars[decl.v.Name] = true
		d.sensitive[decl.v.Name] = decl.v.Sensitive
	}
	vars := d.resolveVariables(decls, opts, p)
	for _, decl := range decls {
		s.Variables = append(s.Variables, decl.v)
	}
	d.ctx = &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":    vars,
			"hstack": cty.ObjectVal(map[string]cty.Value{"environment": cty.StringVal(opts.Env)}),
		},
		Functions: allFunctions(),
	}
	d.checkValidations(decls)

	if opts.Env != "" {
		var env *hcl.Block
		for _, e := range envs {
			if e.Labels[0] == opts.Env {
				env = e
				break
			}
		}
		if env == nil {
			d.add(unknownEnvironment(opts.Env, s.Environments))
			return nil, sortDiagnostics(d.diags)
		}
		top = d.applyEnvironment(top, env)
	}

	d.decodeTop(s, top, f)
	if d.diags.HasErrors() {
		return nil, sortDiagnostics(d.diags)
	}
	d.validate(s)
	if d.diags.HasErrors() {
		return nil, sortDiagnostics(d.diags)
	}
	return s, sortDiagnostics(d.diags)
}

func (d *decoder) decodeTop(s *Stack, top hcl.Blocks, f *hcl.File) {
	var sawStack bool
	for _, blk := range top {
		switch blk.Type {
		case "stack":
			if sawStack {
				// Same-named duplicates were reported by checkDuplicates.
				if blk.Labels[0] != s.Name {
					d.errorf(blk.DefRange, "Duplicate stack block",
						"A stack file describes exactly one stack; the first stack block is %q at %s.", s.Name, s.DeclRange)
				}
				continue
			}
			d.stack(blk, s)
			sawStack = true
		case "database":
			s.Databases = append(s.Databases, d.database(blk))
		case "app":
			s.Apps = append(s.Apps, d.app(blk))
		case "notifier":
			s.Notifiers = append(s.Notifiers, d.notifier(blk))
		case "ingress":
			if s.Ingress == nil {
				s.Ingress = d.ingress(blk)
			}
		case "monitoring":
			if s.Monitoring == nil {
				s.Monitoring = d.monitoring(blk)
			}
		}
	}
	if !sawStack {
		start := hcl.Range{Filename: s.Filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		if syn, ok := f.Body.(*hclsyntax.Body); ok {
			start.Filename = syn.SrcRange.Filename
		}
		d.errorf(start, "Missing stack block",
			"A stack file needs exactly one stack \"<name>\" { ... } block; its name prefixes the Nomad jobs and Consul services it creates.")
	}
}

func unknownEnvironment(name string, declared []string) *hcl.Diagnostic {
	detail := fmt.Sprintf("The stack file declares no environment %q, and it declares no environments at all: remove --env to use the base configuration, or add an environment %q { ... } block.", name, name)
	if len(declared) > 0 {
		q := make([]string, len(declared))
		for i, e := range declared {
			q[i] = fmt.Sprintf("%q", e)
		}
		detail = fmt.Sprintf("The stack file declares no environment %q. Declared environments: %s.%s", name, strings.Join(q, ", "), suggest(name, declared))
	}
	return &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown environment", Detail: detail}
}

// sortDiagnostics orders diagnostics by file and position, those about
// no position (command-line problems) first, so output is stable: HCL
// reports unknown attributes in map order.
func sortDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
	return diags
}
