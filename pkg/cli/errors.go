package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
)

// Exit codes. Usage errors get their own code so CI can tell "the pipeline
// calls hstack wrongly" apart from "the operation failed".
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitUsage       = 2
	ExitInterrupted = 130
)

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
