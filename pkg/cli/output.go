package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// Output writes command results either as human-readable lines or, in JSON
// mode, as one JSON object per line (JSON Lines) so CI can pipe stdout to
// jq without having to handle a surrounding array.
type Output struct {
	// JSON is true when --json was given anywhere on the command line.
	JSON bool
	// Color is true when ANSI styling may be used: a terminal, not JSON
	// mode, no --no-color, NO_COLOR unset and TERM not "dumb".
	Color bool
	// TTY is true when Stdout is a terminal, e.g. to decide on progress
	// animations.
	TTY bool

	Stdout io.Writer
	Stderr io.Writer
}

// OutputFromContext builds the Output for the running command, writing to
// the app's Writer and ErrWriter so tests can capture both.
func OutputFromContext(c *cli.Context) *Output {
	stdout, stderr := io.Writer(os.Stdout), io.Writer(os.Stderr)
	if c.App != nil {
		if c.App.Writer != nil {
			stdout = c.App.Writer
		}
		if c.App.ErrWriter != nil {
			stderr = c.App.ErrWriter
		}
	}
	jsonMode := anyBool(c, flagJSON)
	tty := isTerminal(stdout)
	return &Output{
		JSON:   jsonMode,
		Color:  colorEnabled(tty, jsonMode, anyBool(c, flagNoColor), os.Getenv),
		TTY:    tty,
		Stdout: stdout,
		Stderr: stderr,
	}
}

// anyBool reports whether a bool flag is true at any level of the command
// line. Context.Bool alone is not enough: it stops at the nearest command
// that defines the flag, and the output flags are defined on every level.
func anyBool(c *cli.Context, name string) bool {
	for _, ctx := range c.Lineage() {
		if ctx.Command != nil && ctx.Bool(name) {
			return true
		}
	}
	return false
}

func colorEnabled(tty, jsonMode, noColorFlag bool, getenv func(string) string) bool {
	return tty && !jsonMode && !noColorFlag && getenv("NO_COLOR") == "" && getenv("TERM") != "dumb"
}

// isTerminal avoids a dependency on x/term or go-isatty: a character
// device is close enough to decide about colors.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// Emit writes one result: v as a single JSON line in JSON mode, otherwise
// the formatted human line. v must marshal to a JSON object for the output
// to stay JSON Lines.
func (o *Output) Emit(v any, format string, args ...any) error {
	if o.JSON {
		enc := json.NewEncoder(o.Stdout)
		// Addresses and messages read better without \u003c escapes.
		enc.SetEscapeHTML(false)
		return enc.Encode(v)
	}
	_, err := fmt.Fprintf(o.Stdout, format+"\n", args...)
	return err
}

// Linef writes a human-only line such as progress or hints. In JSON mode it
// goes to Stderr so that stdout stays machine-readable.
func (o *Output) Linef(format string, args ...any) {
	w := o.Stdout
	if o.JSON {
		w = o.Stderr
	}
	_, _ = fmt.Fprintf(w, format+"\n", args...)
}

// Bold, Green, Yellow and Red style s when Color is enabled and return it
// unchanged otherwise, so callers never need to branch on Color.
func (o *Output) Bold(s string) string   { return o.paint("1", s) }
func (o *Output) Green(s string) string  { return o.paint("32", s) }
func (o *Output) Yellow(s string) string { return o.paint("33", s) }
func (o *Output) Red(s string) string    { return o.paint("31", s) }

func (o *Output) paint(code, s string) string {
	if !o.Color {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}
