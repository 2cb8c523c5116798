package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/doccmd"
)

// TestDocumentedCommandLinesParse holds every hstack command line in the
// README, docs, scripts, Makefile and CI workflows to the real command
// tree: the command and subcommand exist, every flag exists (and takes a
// value if given one), and the argument count fits the command's
// ArgsUsage. The commands' actions are replaced, so nothing runs.
func TestDocumentedCommandLinesParse(t *testing.T) {
	isolateEnv(t)
	files, err := doccmd.Sources(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range files {
		lines, err := doccmd.Find(f)
		if err != nil {
			t.Error(err)
			continue
		}
		for _, l := range lines {
			found++
			if msg, code := parseOnly(l.Args, l.Mention); code != ExitOK {
				t.Errorf("%s\n\tdoes not parse (exit %d): %s", l, code, msg)
			}
		}
	}
	// The README alone shows a dozen; finding none means the finder broke.
	if found < 20 {
		t.Fatalf("found only %d hstack command lines in %d files", found, len(files))
	}
}

// parseOnly runs args through the real App with every action replaced by
// the argument-count check alone; a mention in prose may leave out
// required arguments.
func parseOnly(args []string, mention bool) (string, int) {
	app := App()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter = &out, &errOut
	stubActions(app.Commands, mention)
	code := run(context.Background(), app, append([]string{appName}, samplePlaceholders(app, args)...))
	return errOut.String(), code
}

func stubActions(cmds []*cli.Command, mention bool) {
	for _, c := range cmds {
		c.Before, c.After = nil, nil
		// A pure group keeps groupAction, which refuses an unknown
		// subcommand.
		if len(c.Subcommands) == 0 || c.ArgsUsage != "" {
			spec := parseArgsUsage(c.ArgsUsage)
			if mention {
				spec.min = 0
			}
			c.Action = func(ctx *cli.Context) error { return checkArgs(ctx, spec) }
		}
		stubActions(c.Subcommands, mention)
	}
}

var placeholder = regexp.MustCompile(`^(?:[A-Z][A-Z0-9_]*|<[^>]+>|VALUE)$`)

// samplePlaceholders gives a typed flag written with a placeholder value
// (--parallel N, --ttl DURATION) a value of its type, so that the check is
// about the flag's existence, not the reader's value.
func samplePlaceholders(app *cli.App, args []string) []string {
	out := append([]string(nil), args...)
	for i := 0; i+1 < len(out); i++ {
		if len(out[i]) < 2 || out[i][0] != '-' || !placeholder.MatchString(out[i+1]) {
			continue
		}
		name := regexp.MustCompile(`^-+`).ReplaceAllString(out[i], "")
		switch anyFlag(app, name).(type) {
		case *cli.IntFlag, *cli.Int64Flag, *cli.UintFlag, *cli.Uint64Flag, *cli.Float64Flag:
			out[i+1] = "1"
		case *cli.DurationFlag:
			out[i+1] = "1s"
		}
	}
	return out
}

func anyFlag(app *cli.App, name string) cli.Flag {
	if f := lookupFlag(app.Flags, name); f != nil {
		return f
	}
	var walk func([]*cli.Command) cli.Flag
	walk = func(cmds []*cli.Command) cli.Flag {
		for _, c := range cmds {
			if f := lookupFlag(c.Flags, name); f != nil {
				return f
			}
			if f := walk(c.Subcommands); f != nil {
				return f
			}
		}
		return nil
	}
	return walk(app.Commands)
}

// The check refuses what a reader could not run.
func TestParseOnlyRefusesDrift(t *testing.T) {
	isolateEnv(t)
	for _, tc := range []struct {
		args    string
		mention bool
		ok      bool
	}{
		{"status pingapp --env dev", false, true},
		{"deploy --env prod APP --json", false, true},
		{"db creds --ttl DURATION ROLE", false, true},
		{"promote", true, true},
		{"promote", false, false},
		{"promote a b", true, false},
		{"statuz pingapp", false, false},
		{"db frobnicate", false, false},
		{"status --bogus", false, false},
		{"version --env dev", false, false},
	} {
		_, code := parseOnly(strings.Fields(tc.args), tc.mention)
		if (code == ExitOK) != tc.ok {
			t.Errorf("parseOnly(%q, mention=%v) exit %d, want ok=%v", tc.args, tc.mention, code, tc.ok)
		}
	}
}
