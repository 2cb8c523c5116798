package pingapp

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"
)

// Defaults for [Options].
const (
	DefaultListen = "127.0.0.1:8080"
	DefaultDrain  = 5 * time.Second
)

// Options is the process configuration assembled from flags and environment.
type Options struct {
	Listen          string
	Drain           time.Duration
	DatabaseURLFile string // preferred over DatabaseURL when set
	DatabaseURL     string
	Faults          Faults
	ShowVersion     bool
}

// Faults are deliberate misbehaviours used to simulate a bad release.
type Faults struct {
	ErrorRate  float64       // FAULT_ERROR_RATE, in [0,1]
	Latency    time.Duration // FAULT_LATENCY
	FailHealth bool          // FAULT_FAIL_HEALTH
	Crash      bool          // FAULT_CRASH
}

// LogValue logs each fault as its own attribute, so that log queries can
// find instances running with a given fault.
func (f Faults) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Float64("error_rate", f.ErrorRate),
		slog.Duration("latency", f.Latency),
		slog.Bool("fail_health", f.FailHealth),
		slog.Bool("crash", f.Crash))
}

// Any reports whether any fault is enabled.
func (f Faults) Any() bool { return f != Faults{} }

// ParseOptions parses command-line args (without the program name) with
// fallbacks from getenv. Flag usage and errors are written to output. It
// returns [flag.ErrHelp] for -h.
func ParseOptions(args []string, getenv func(string) string, output io.Writer) (Options, error) {
	var o Options
	drainDefault := DefaultDrain
	if v := getenv("SHUTDOWN_DRAIN"); v != "" {
		d, err := parseDuration("SHUTDOWN_DRAIN", v)
		if err != nil {
			return o, err
		}
		drainDefault = d
	}
	listenDefault := DefaultListen
	if v := getenv("LISTEN_ADDR"); v != "" {
		listenDefault = v
	}

	fs := flag.NewFlagSet("pingapp", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.StringVar(&o.Listen, "listen", listenDefault, "address to listen on (env LISTEN_ADDR)")
	fs.DurationVar(&o.Drain, "drain", drainDefault, "how long to keep serving after SIGTERM before shutting down (env SHUTDOWN_DRAIN)")
	fs.BoolVar(&o.ShowVersion, "version", false, "print version and exit")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	if o.ShowVersion {
		return o, nil
	}
	if o.Drain < 0 {
		return o, fmt.Errorf("-drain: must not be negative, got %s", o.Drain)
	}
	if o.Listen == "" {
		return o, errors.New("-listen: must not be empty")
	}

	o.DatabaseURLFile = strings.TrimSpace(getenv("DATABASE_URL_FILE"))
	o.DatabaseURL = strings.TrimSpace(getenv("DATABASE_URL"))
	if o.DatabaseURLFile == "" && o.DatabaseURL == "" {
		return o, errors.New("no database configured: set DATABASE_URL_FILE or DATABASE_URL")
	}

	f, err := ParseFaults(getenv)
	if err != nil {
		return o, err
	}
	o.Faults = f
	return o, nil
}

// ParseFaults reads the FAULT_* variables; unset or empty means disabled.
func ParseFaults(getenv func(string) string) (Faults, error) {
	var f Faults
	if v := getenv("FAULT_ERROR_RATE"); v != "" {
		r, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(r) || r < 0 || r > 1 {
			return f, fmt.Errorf("FAULT_ERROR_RATE: want a number between 0 and 1, got %q", v)
		}
		f.ErrorRate = r
	}
	if v := getenv("FAULT_LATENCY"); v != "" {
		d, err := parseDuration("FAULT_LATENCY", v)
		if err != nil {
			return f, err
		}
		f.Latency = d
	}
	var err error
	if f.FailHealth, err = parseBool("FAULT_FAIL_HEALTH", getenv); err != nil {
		return f, err
	}
	if f.Crash, err = parseBool("FAULT_CRASH", getenv); err != nil {
		return f, err
	}
	return f, nil
}

func parseDuration(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%s: want a non-negative Go duration such as 250ms or 5s, got %q", name, v)
	}
	return d, nil
}

func parseBool(name string, getenv func(string) string) (bool, error) {
	v := getenv(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(strings.TrimSpace(v))
	if err != nil {
		return false, fmt.Errorf("%s: want true or false, got %q", name, v)
	}
	return b, nil
}
