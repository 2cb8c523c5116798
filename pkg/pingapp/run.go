package pingapp

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Run is the whole program: it parses args (without the program name) and
// the environment, serves until SIGTERM or SIGINT, and returns the exit
// status: 0 after a clean shutdown, 1 on a runtime failure (or FAULT_CRASH),
// 2 on bad configuration.
func Run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	opts, err := ParseOptions(args, getenv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "pingapp: %v\n", err)
		return 2
	}
	if opts.ShowVersion {
		fmt.Fprintf(stderr, "pingapp %s (commit %s)\n", Version, Commit)
		return 0
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	// Installed before anything slow so that an early SIGTERM still gets a
	// graceful exit rather than the default abrupt one.
	sigCtx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ln, err := net.Listen("tcp", opts.Listen)
	if err != nil {
		log.Error("cannot listen", "err", err)
		return 1
	}
	defer ln.Close()
	log.Info("pingapp starting", "version", Version, "commit", Commit, "listen", ln.Addr().String(),
		"drain", opts.Drain, "faults", opts.Faults)
	if opts.Faults.Crash {
		log.Error("FAULT_CRASH is set: exiting with status 1 to simulate a crashing release")
		return 1
	}

	db, err := OpenDB(ctx, DBConfig{File: opts.DatabaseURLFile, URL: opts.DatabaseURL, Logger: log})
	if err != nil {
		log.Error("cannot configure database", "err", err)
		return 1
	}
	defer db.Close()
	if err := db.Watch(); err != nil {
		log.Error("cannot watch database credentials", "err", err)
		return 1
	}
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	if err := db.Ping(pctx); err != nil {
		log.Warn("database not reachable yet; /readyz reports 503 until it is", "err", err)
	}
	cancel()

	srv, err := New(Config{DB: db, Faults: opts.Faults, Drain: opts.Drain, Logger: log})
	if err != nil {
		log.Error("cannot create server", "err", err)
		return 1
	}

	// Reloads keep working during the drain: rotated credentials must still
	// be picked up while the last requests are served.
	served := make(chan struct{})
	defer close(served)
	go func() {
		for {
			select {
			case <-hup:
				_, _ = db.Reload(context.WithoutCancel(ctx)) // logs its outcome; a failed reload keeps the old pool
			case <-served:
				return
			}
		}
	}()
	go func() {
		<-sigCtx.Done()
		// Restore default signal handling: a second SIGINT/SIGTERM during
		// the drain kills the process at once.
		stop()
	}()

	err = srv.Serve(sigCtx, ln)
	if err != nil {
		log.Error("server failed", "err", err)
		return 1
	}
	db.Close()
	log.Info("pingapp stopped")
	return 0
}
