// Package cli implements the hstack command line.
package cli

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
)

const appName = "hstack"

// Main runs hstack with args (including the program name, as in os.Args)
// and returns the process exit code; it never calls os.Exit itself so it
// can be driven from tests.
func Main(args []string) int {
	// Long-running commands (dev up) get a context that is cancelled on
	// Ctrl-C / SIGTERM via c.Context, so they can shut down cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, App(), args)
}

func run(ctx context.Context, app *cli.App, args []string) int {
	// TLS misconfigurations come back from the libraries as bare x509 or
	// HTTP errors; Explain names the variable to set.
	err := clients.Explain(app.RunContext(ctx, reorderArgs(app, args)))
	if err == nil {
		return ExitOK
	}
	if ctx.Err() != nil {
		fmt.Fprintf(app.ErrWriter, "%s: interrupted\n", appName)
		return ExitInterrupted
	}
	if msg := err.Error(); msg != "" {
		fmt.Fprintf(app.ErrWriter, "%s: %s\n", appName, msg)
	}
	return ExitCode(err)
}

// App returns the hstack application.
func App() *cli.App {
	return newApp()
}

// newApp lets tests graft extra commands on before the tree is prepared,
// so they get the same error handling and output flags as real ones.
func newApp(extra ...*cli.Command) *cli.App {
	app := &cli.App{
		Name:     appName,
		HelpName: appName,
		Usage:    "run and operate a Nomad, Consul and Vault stack",
		Flags:    globalFlags(),
		Commands: append([]*cli.Command{
			versionCommand(),
			devCommand(),
			validateCommand(),
			renderCommand(),
			planCommand(),
			deployCommand(),
			statusCommand(),
			promoteCommand(),
			abortCommand(),
			rollbackCommand(),
			historyCommand(),
			servicesCommand(),
			dbCommand(),
			infraCommand(),
			imageCommand(),
			bootstrapCommand(),
			snapshotCommand(),
			scaleCommand(),
		}, extra...),
		// --version would claim -v, which later commands may want for
		// --verbose; `hstack version` is the one way to ask.
		HideVersion: true,
		Writer:      os.Stdout,
		ErrWriter:   os.Stderr,
		Action:      groupAction,
		// urfave/cli would otherwise print errors itself and call os.Exit
		// from inside Run; run() owns both.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError:   onUsageError,
	}
	prepare(app.Commands)
	return app
}

// prepare applies to every command what urfave/cli v2 does not inherit
// from the App: usage-error handling, unknown-subcommand detection and the
// output flags. It runs on whatever devCommand and friends return, so
// command files need no boilerplate.
func prepare(cmds []*cli.Command) {
	prepareTree(cmds, map[*cli.Command]bool{})
}

func prepareTree(cmds []*cli.Command, seen map[*cli.Command]bool) {
	for _, cmd := range cmds {
		// urfave/cli's help command is a package-level value that it
		// grafts into every command tree, itself included, once an app has
		// run; touching it would leak into other App instances and loop.
		if seen[cmd] || cmd.Name == "help" {
			continue
		}
		seen[cmd] = true
		if cmd.OnUsageError == nil {
			cmd.OnUsageError = onUsageError
		}
		switch {
		case len(cmd.Subcommands) > 0 && cmd.Action == nil:
			cmd.Action = groupAction
		case cmd.Action != nil:
			cmd.Action = withArgsCheck(cmd, cmd.Action)
		}
		if !hasFlag(cmd.Flags, flagJSON) {
			cmd.Flags = append(cmd.Flags, jsonFlag())
		}
		if !hasFlag(cmd.Flags, flagNoColor) {
			cmd.Flags = append(cmd.Flags, noColorFlag())
		}
		prepareTree(cmd.Subcommands, seen)
	}
}

func hasFlag(flags []cli.Flag, name string) bool {
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return true
			}
		}
	}
	return false
}

// groupAction runs for the app and for command groups when no subcommand
// matched. Without it urfave/cli treats "hstack frobnicate" as a help
// topic lookup and exits 3.
func groupAction(c *cli.Context) error {
	if c.Args().Present() {
		return UsageErrorf("unknown command %q for '%s' (see '%s --help')", c.Args().First(), commandPath(c), commandPath(c))
	}
	if c.Command == nil || c.Command.Name == appName {
		return cli.ShowAppHelp(c)
	}
	return cli.ShowSubcommandHelp(c)
}
