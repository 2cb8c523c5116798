package cli

import (
	"slices"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"
)

func TestReorderArgs(t *testing.T) {
	app := newApp(&cli.Command{
		Name: "grp",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "env"},
		},
		Subcommands: []*cli.Command{{
			Name:      "sub",
			ArgsUsage: "[NAME...]",
			Flags: []cli.Flag{
				&cli.StringSliceFlag{Name: "var"},
				&cli.BoolFlag{Name: "dry-run"},
			},
		}},
	})
	for _, tc := range []struct{ in, want string }{
		{"status pingapp --env dev", "status --env dev pingapp"},
		{"status --env dev pingapp", "status --env dev pingapp"},
		{"status pingapp --env=dev --json", "status --env=dev --json pingapp"},
		// A global flag after the command goes back before it.
		{"status pingapp --nomad-addr http://x:1", "--nomad-addr http://x:1 status pingapp"},
		// The value of a value flag is never a name, a boolean takes none.
		{"grp sub a --var x=1 b --dry-run c", "grp sub --var x=1 --dry-run a b c"},
		{"grp sub a --env dev", "grp --env dev sub a"},
		// Nobody's flag stays with the innermost command, which refuses it.
		{"grp sub a --bogus b", "grp sub --bogus a b"},
		// After --, everything is an argument.
		{"grp sub a -- --dry-run -x", "grp sub -- a --dry-run -x"},
		// A value flag at the very end keeps its (missing) value missing.
		{"status pingapp --env", "status --env pingapp"},
		// A word after the first argument is an argument, even if it names a subcommand.
		{"services web sync", "services web sync"},
		{"services sync --env dev", "services sync --env dev"},
		{"help status --json", "help status --json"},
		{"deploy pingapp -h", "deploy -h pingapp"},
		{"-", "-"},
	} {
		got := strings.Join(reorderArgs(app, append([]string{"hstack"}, strings.Fields(tc.in)...))[1:], " ")
		if got != tc.want {
			t.Errorf("reorderArgs(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Flags after arguments reach the command and are not taken for names,
// through the real parser.
func TestFlagsAfterArguments(t *testing.T) {
	isolateEnv(t)
	var gotArgs []string
	var gotEnv string
	var gotJSON bool
	r := runApp(t, []*cli.Command{{
		Name:      "show",
		ArgsUsage: "[APP...]",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "env"}},
		Action: func(c *cli.Context) error {
			gotArgs, gotEnv, gotJSON = c.Args().Slice(), c.String("env"), c.Bool(flagJSON)
			return nil
		},
	}}, "show", "pingapp", "--env", "dev", "web", "--json")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !slices.Equal(gotArgs, []string{"pingapp", "web"}) || gotEnv != "dev" || !gotJSON {
		t.Errorf("args %q, --env %q, --json %v; want [pingapp web], dev, true", gotArgs, gotEnv, gotJSON)
	}
}

func TestParseArgsUsage(t *testing.T) {
	for _, tc := range []struct {
		usage    string
		min, max int
	}{
		{"", 0, 0},
		{"APP", 1, 1},
		{"[ROLE]", 0, 1},
		{"[APP...]", 0, -1},
		{"SERVICE...", 1, -1},
		{"APP COUNT", 2, 2},
		{"LEASE_ID | --role ROLE", 0, 1},
		{"DIR [--yes]", 1, 1},
	} {
		s := parseArgsUsage(tc.usage)
		if s.min != tc.min || s.max != tc.max {
			t.Errorf("parseArgsUsage(%q) = min %d max %d, want %d %d", tc.usage, s.min, s.max, tc.min, tc.max)
		}
	}
}
