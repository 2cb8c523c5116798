package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
)

// Exit codes, the same for every command; docs/exit-codes.md has them as
// a table. Usage errors get their own code so CI can tell "the pipeline
// calls hstack wrongly" apart from "the operation failed", and an
// unreachable cluster its own so a retry can be told apart from a fix.
const (
	ExitOK = 0
	// ExitFailure: the operation failed, or a check found a problem.
	ExitFailure = 1
	// ExitRolledBack: a release failed or was rolled back.
	ExitRolledBack = 1
	// ExitChanges: plan (as `nomad job plan`) and render --check found
	// the cluster or the files differing from the stack file.
	ExitChanges = 1
	// ExitInfraChanges: `hstack infra plan` found changes to apply: 2, as
	// `terraform plan -detailed-exitcode` has it, so CI written for
	// Terraform keeps working. A wrong invocation (also 2) runs nothing and
	// says so on stderr; --json prints the per-layer result.
	ExitInfraChanges = 2
	// ExitUsage: bad flags, arguments or stack file; nothing was changed.
	ExitUsage = 2
	// ExitUnreachable: Nomad, Consul, Vault or Prometheus could not be
	// reached, or refused hstack's credentials.
	ExitUnreachable = 3
	// ExitWaiting: canaries are healthy and wait for a human to promote.
	ExitWaiting     = 4
	ExitInterrupted = 130
)

// Unreachable reports whether err means a cluster service could not be
// reached or refused the credentials: a transport error, or an API's
// 401, 403, 502, 503 or 504 (Vault answers 503 while sealed). A 500 is
// the service's own failure, not a question of reaching it. The
// classification is clients.Classify's, shared with release.Preflight.
func Unreachable(err error) bool { return clients.Unreachable(err) }

// apiFailure gives err the exit code its cause calls for: ExitUnreachable
// when the service is out of reach, otherwise code.
func apiFailure(err error, code int) error {
	var ee *ExitError
	if errors.As(err, &ee) {
		return err
	}
	if Unreachable(err) {
		code = ExitUnreachable
	}
	return &ExitError{Code: code, Err: err}
}

// ExitError carries an exit code with an error. It implements
// cli.ExitCoder, so urfave/cli's own cli.Exit errors and ExitError are
// interchangeable in Actions.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *ExitError) Unwrap() error { return e.Err }

// ExitCode implements cli.ExitCoder.
func (e *ExitError) ExitCode() int { return e.Code }

// UsageErrorf reports a wrong invocation (bad argument, conflicting flags)
// from inside an Action; it exits with ExitUsage.
func UsageErrorf(format string, args ...any) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf(format, args...)}
}

// ExactArgs returns a usage error unless the command got exactly one
// positional argument per name; names are used in the message.
func ExactArgs(c *cli.Context, names ...string) error {
	switch n := c.NArg(); {
	case n < len(names):
		return UsageErrorf("missing argument %s (see '%s --help')", strings.Join(names[n:], " "), commandPath(c))
	case n > len(names):
		return UsageErrorf("unexpected argument %q (see '%s --help')", c.Args().Get(len(names)), commandPath(c))
	}
	return nil
}

// ExitCode maps an error returned by the app to the process exit code.
func ExitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		// urfave/cli's help command reports an unknown topic with code 3;
		// for a caller that is just a misspelt command.
		if strings.HasPrefix(err.Error(), "No help topic for") {
			return ExitUsage
		}
		return ec.ExitCode()
	}
	// urfave/cli's missing-required-flag error type is unexported, so the
	// message is all there is to recognise it by.
	if strings.HasPrefix(err.Error(), "Required flag") {
		return ExitUsage
	}
	return ExitFailure
}

// onUsageError turns flag-parsing failures into ExitUsage errors whose
// message names the flag the way the user typed it (--name, not -name as
// the standard flag package reports it).
func onUsageError(c *cli.Context, err error, _ bool) error {
	return &ExitError{
		Code: ExitUsage,
		Err:  fmt.Errorf("%s (see '%s --help')", rewriteFlagError(err), commandPath(c)),
	}
}

var (
	reUndefined = regexp.MustCompile(`^flag provided but not defined: -+(\S+)$`)
	reNoValue   = regexp.MustCompile(`^flag needs an argument: -+(\S+)$`)
	reBadValue  = regexp.MustCompile(`^invalid (?:boolean )?value (".*") for (?:flag )?-+([^\s:]+): (.*)$`)
)

func rewriteFlagError(err error) string {
	msg := err.Error()
	if m := reUndefined.FindStringSubmatch(msg); m != nil {
		return "unknown flag " + dashed(m[1])
	}
	if m := reNoValue.FindStringSubmatch(msg); m != nil {
		return "flag " + dashed(m[1]) + " needs a value"
	}
	if m := reBadValue.FindStringSubmatch(msg); m != nil {
		return fmt.Sprintf("invalid value %s for flag %s: %s", m[1], dashed(m[2]), m[3])
	}
	return msg
}

func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// commandPath is the command line prefix that names c, e.g. "hstack dev up".
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Command.Name != "" {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	if len(names) == 0 {
		return appName
	}
	return strings.Join(names, " ")
}

// argSpec is what a command's ArgsUsage promises: "APP" (one), "[ROLE]"
// (at most one), "[APP...]" (any number), "LEASE_ID | --role ROLE" (one of
// the alternatives; a flag's placeholder is not an argument). prepare
// enforces it for every command, so the help text and the check cannot
// drift apart.
type argSpec struct {
	min, max int // max < 0: no limit
	required []string
}

func parseArgsUsage(usage string) argSpec {
	spec := argSpec{min: -1}
	for _, alt := range strings.Split(usage, "|") {
		var a argSpec
		words := strings.Fields(alt)
		for i := 0; i < len(words); i++ {
			w := strings.Trim(words[i], "[]")
			switch {
			case strings.HasPrefix(w, "-"):
				if i+1 < len(words) && !strings.HasPrefix(words[i+1], "[") && strings.ToUpper(words[i+1]) == words[i+1] {
					i++ // the flag's value
				}
			case strings.HasSuffix(w, "..."):
				if !strings.HasPrefix(words[i], "[") {
					a.required = append(a.required, strings.TrimSuffix(w, "..."))
					a.min++
				}
				a.max = -1
			case strings.HasPrefix(words[i], "["):
				if a.max >= 0 {
					a.max++
				}
			default:
				a.required = append(a.required, w)
				a.min++
				if a.max >= 0 {
					a.max++
				}
			}
		}
		if spec.min < 0 || a.min < spec.min {
			spec.min, spec.required = a.min, a.required
		}
		if spec.max >= 0 && (a.max < 0 || a.max > spec.max) {
			spec.max = a.max
		}
	}
	return spec
}

// checkArgs refuses a wrong number of positional arguments, by the
// command's ArgsUsage.
func checkArgs(c *cli.Context, spec argSpec) error {
	switch n := c.NArg(); {
	case n < spec.min:
		return UsageErrorf("missing argument %s (see '%s --help')", strings.Join(spec.required[n:], " "), commandPath(c))
	case spec.max >= 0 && n > spec.max:
		return UsageErrorf("unexpected argument %q (see '%s --help')", c.Args().Get(spec.max), commandPath(c))
	}
	return nil
}

// withArgsCheck runs checkArgs before action.
func withArgsCheck(cmd *cli.Command, action cli.ActionFunc) cli.ActionFunc {
	spec := parseArgsUsage(cmd.ArgsUsage)
	return func(c *cli.Context) error {
		if err := checkArgs(c, spec); err != nil {
			return err
		}
		return action(c)
	}
}
