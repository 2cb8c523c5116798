package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/dustin/go-humanize/english"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Stack file flags, shared by every command that reads hstack.hcl
// (validate, render, plan, deploy): add stackFlags() to the command and
// call loadStack.
const (
	flagFile    = "file"
	flagEnv     = "env"
	flagVar     = "var"
	flagVarFile = "var-file"

	catStack = "Stack file"
)

// stackFlags returns fresh flag values on every call, like globalFlags.
func stackFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagFile, Aliases: []string{"f"}, Value: stackfile.DefaultFile, EnvVars: []string{"HSTACK_FILE"}, Category: catStack,
			Usage: "stack `FILE` to read"},
		&cli.StringFlag{Name: flagEnv, EnvVars: []string{"HSTACK_ENV"}, Category: catStack,
			Usage: "`NAME` of the environment whose overrides apply (default: the base configuration)"},
		// Not a StringSliceFlag: urfave/cli splits those at commas, which
		// would break --var 'zones=["a","b"]'.
		&cli.GenericFlag{Name: flagVar, Value: &repeatedFlag{}, Category: catStack,
			Usage: "set an input variable, `NAME=VALUE`; repeatable, beats --var-file and HSTACK_VAR_NAME"},
		&cli.GenericFlag{Name: flagVarFile, Value: &repeatedFlag{}, Category: catStack,
			Usage: "read input variables from `FILE` (HCL, or JSON if it ends in .json); repeatable, later files win"},
	}
}

// repeatedFlag collects every occurrence of a flag, in order.
type repeatedFlag struct{ values []string }

func (r *repeatedFlag) Set(v string) error { r.values = append(r.values, v); return nil }
func (r *repeatedFlag) String() string     { return "" }

func repeated(c *cli.Context, name string) []string {
	if r, ok := c.Generic(name).(*repeatedFlag); ok {
		return append([]string(nil), r.values...)
	}
	return nil
}

// stackOptions reads the stack flags. The parser is shared by every load
// of the command so diagnostics can quote any file involved.
func stackOptions(c *cli.Context) (path string, opts stackfile.LoadOptions) {
	return c.String(flagFile), stackfile.LoadOptions{
		Env:      c.String(flagEnv),
		Vars:     repeated(c, flagVar),
		VarFiles: repeated(c, flagVarFile),
		Parser:   hclparse.NewParser(),
	}
}

// loadStack loads the stack file for the --env environment. Diagnostics
// are printed to stderr; on errors it returns an ExitUsage error, because
// a broken stack file is bad input, not a failed operation.
func loadStack(c *cli.Context) (*stackfile.Stack, error) {
	path, opts := stackOptions(c)
	s, diags := stackfile.Load(path, opts)
	if err := reportDiagnostics(c, path, diags, opts.Parser); err != nil {
		return nil, err
	}
	return s, nil
}

// reportDiagnostics prints diags in HCL's standard format, with source
// snippets, and turns errors into an ExitUsage error whose message lists
// them as file:line,col lines that editors and CI logs can link.
func reportDiagnostics(c *cli.Context, path string, diags hcl.Diagnostics, p *hclparse.Parser) error {
	if len(diags) == 0 {
		return nil
	}
	out := OutputFromContext(c)
	tty := isTerminal(out.Stderr)
	color := colorEnabled(tty, out.JSON, anyBool(c, flagNoColor), os.Getenv)
	w := hcl.NewDiagnosticTextWriter(out.Stderr, p.Files(), diagWidth(tty), color)
	if err := w.WriteDiagnostics(diags); err != nil {
		return err
	}
	if !diags.HasErrors() {
		return nil
	}
	var lines []string
	for _, d := range diags {
		if d.Severity != hcl.DiagError {
			continue
		}
		where := path
		if d.Subject != nil {
			where = d.Subject.String()
		}
		lines = append(lines, fmt.Sprintf("  %s: %s", where, d.Summary))
	}
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s is not valid, %s:\n%s", path, english.Plural(len(lines), "error", ""), strings.Join(lines, "\n"))}
}

// diagWidth wraps details to the terminal; piped output is not wrapped,
// as CI log viewers wrap by themselves.
func diagWidth(tty bool) uint {
	if !tty {
		return 0
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n > 20 {
		return uint(n)
	}
	return 80
}

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:  "validate",
		Usage: "check the stack file: schema, references, rollout settings, variables and environments",
		Description: "Loads the stack file like render and deploy do and reports every problem with its\n" +
			"file, line and column. With --env it checks that environment; without, the base\n" +
			"configuration and then every environment the file declares. Exits 2 if anything is wrong.",
		Flags:  stackFlags(),
		Action: validateAction,
	}
}

// validateResult is the --json output.
type validateResult struct {
	File  string `json:"file"`
	Valid bool   `json:"valid"`
	Stack string `json:"stack"`
	// Environment is the --env environment, "" when the base and every
	// environment were checked; Checked lists the environments checked.
	Environment string   `json:"environment"`
	Checked     []string `json:"checked_environments"`
	Apps        []string `json:"apps"`
	Databases   []string `json:"databases"`
	Notifiers   []string `json:"notifiers"`
	Ingress     bool     `json:"ingress"`
	Monitoring  bool     `json:"monitoring"`
}

func validateAction(c *cli.Context) error {
	path, opts := stackOptions(c)
	var s *stackfile.Stack
	checked := []string{}
	if opts.Env != "" {
		var err error
		if s, err = loadStack(c); err != nil {
			return err
		}
		checked = []string{opts.Env}
	} else {
		// Without --env, a typo in an environment the CI job does not
		// deploy should still fail validation; environments are only
		// loadable once the base is, since they merge into it.
		var diags hcl.Diagnostics
		s, diags = stackfile.Load(path, opts)
		if s != nil {
			checked = append(checked, s.Environments...)
			for _, env := range s.Environments {
				o := opts
				o.Env = env
				_, envDiags := stackfile.Load(path, o)
				diags = appendNewDiagnostics(diags, envDiags)
			}
		}
		if err := reportDiagnostics(c, path, diags, opts.Parser); err != nil {
			return err
		}
	}

	res := validateResult{
		File: path, Valid: true, Stack: s.Name, Environment: opts.Env, Checked: checked,
		Apps:       stackNames(s.Apps, func(a *stackfile.App) string { return a.Name }),
		Databases:  stackNames(s.Databases, func(d *stackfile.Database) string { return d.Name }),
		Notifiers:  stackNames(s.Notifiers, func(n *stackfile.Notifier) string { return n.Name }),
		Ingress:    s.Ingress != nil,
		Monitoring: s.Monitoring != nil,
	}
	scope := "env " + opts.Env
	if opts.Env == "" {
		scope = "base"
		if len(checked) > 0 {
			scope = "base and environments " + strings.Join(checked, ", ")
		}
	}
	parts := []string{english.Plural(len(res.Apps), "app", ""), english.Plural(len(res.Databases), "database", ""), english.Plural(len(res.Notifiers), "notifier", "")}
	if res.Ingress {
		parts = append(parts, "ingress")
	}
	if res.Monitoring {
		parts = append(parts, "monitoring")
	}
	return OutputFromContext(c).Emit(res, "%s: valid (%s): %s", path, scope, strings.Join(parts, ", "))
}

// appendNewDiagnostics adds the diagnostics of more that are not already in diags:
// every environment repeats the base's warnings and var-file problems.
func appendNewDiagnostics(diags, more hcl.Diagnostics) hcl.Diagnostics {
	key := func(d *hcl.Diagnostic) string {
		where := ""
		if d.Subject != nil {
			where = d.Subject.String()
		}
		return fmt.Sprintf("%d|%s|%s|%s", d.Severity, d.Summary, d.Detail, where)
	}
	seen := map[string]bool{}
	for _, d := range diags {
		seen[key(d)] = true
	}
	for _, d := range more {
		if k := key(d); !seen[k] {
			seen[k] = true
			diags = append(diags, d)
		}
	}
	return diags
}

func stackNames[T any](xs []T, name func(T) string) []string {
	out := make([]string, 0, len(xs))
	for _, x := range xs {
		out = append(out, name(x))
	}
	return out
}
