package devstack

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"

	"github.com/hstack-dev/hstack/pkg/tools"
)

// Preflight checks what Up needs that no tool build provides, so `make
// demo` can refuse in seconds instead of after building Nomad, Consul and
// Vault: PostgreSQL's binaries, as root the postgres user and a place it
// can keep its data, a stack directory that can be created, and free ports
// (unless a stack already runs in opts.Dir and holds them). Nomad, Consul
// and Vault themselves are what the tool build makes.
func Preflight(opts Options) []error {
	var problems []error
	if _, err := tools.FindPostgres(); err != nil {
		problems = append(problems, fmt.Errorf("postgres: %w", err))
	}
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("postgres"); err != nil {
			problems = append(problems, fmt.Errorf("running as root, PostgreSQL needs the 'postgres' system user (install the Debian package postgresql): %w", err))
		} else if st, err := os.Stat(pgBase(u)); err != nil || !st.IsDir() {
			problems = append(problems, fmt.Errorf("postgres: no directory for its data (%s): %v", pgBase(u), err))
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return append(problems, err)
	}
	if err := writableAncestor(dir); err != nil {
		problems = append(problems, err)
	}
	ports := StandardPorts()
	if opts.Ports != nil {
		ports = *opts.Ports
	}
	running := false
	if prev, err := Open(dir); err == nil {
		for _, r := range prev.Running() {
			running = running || r
		}
	}
	if !running {
		if err := ports.checkFree(); err != nil {
			problems = append(problems, err)
		}
	}
	return problems
}

// writableAncestor reports an error unless dir exists as a directory or
// its nearest existing ancestor is one we may create it in.
func writableAncestor(dir string) error {
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("%s is not a directory, so the stack directory %s cannot be created", d, dir)
			}
			if d != dir && st.Mode().Perm()&0o200 == 0 && os.Geteuid() != 0 {
				return fmt.Errorf("%s is not writable, so the stack directory %s cannot be created", d, dir)
			}
			return nil
		}
		if d == filepath.Dir(d) {
			return err
		}
	}
}
