package devstack

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"github.com/hstack-dev/hstack/pkg/pgserver"
)

func (s *Stack) pg() *pgserver.Server {
	return &pgserver.Server{
		BinDir:   s.pgBinDir,
		Dir:      s.pgDir(),
		Port:     s.Ports.Postgres,
		Password: s.state.PGPassword,
		LogPath:  s.pgLog(),
	}
}

// pgLog is the server's log. The postgres user writes it, so with a
// private data directory it lives there, and logs/postgres.log links to
// it (removePGData puts a copy in its place).
func (s *Stack) pgLog() string {
	if s.state.PGDir != "" {
		return filepath.Join(s.state.PGDir, "postgres.log")
	}
	return s.path("logs", "postgres.log")
}

// pgDir is where PostgreSQL keeps its data: the stack's postgres/, or,
// when we run as root, a private directory of the postgres user outside
// the stack (state.PGDir). Root's clone of the repository usually sits
// under a 0700 home directory, which the postgres user, who runs the
// server, cannot enter.
func (s *Stack) pgDir() string {
	if s.state.PGDir != "" {
		return s.state.PGDir
	}
	return s.path("postgres")
}

// pgBase is where private data directories go: the postgres user's home,
// which it can always enter, else the system temp dir.
func pgBase(u *user.User) string {
	if st, err := os.Stat(u.HomeDir); err == nil && st.IsDir() && st.Mode().Perm()&0o001 != 0 {
		return u.HomeDir
	}
	return os.TempDir()
}

// carryPostgres keeps the previous run's PostgreSQL (its password and data
// directory) when the password is known, and otherwise starts afresh,
// removing the old data. As root, a fresh start gets a new private data
// directory, recorded in the state before anything is written to it.
func (s *Stack) carryPostgres(prev *Stack) error {
	if prev != nil && prev.state.PGPassword != "" {
		s.state.PGPassword, s.state.PGDir = prev.state.PGPassword, prev.state.PGDir
	} else {
		if prev != nil {
			if err := prev.removePGData(); err != nil {
				return err
			}
		}
		if err := os.RemoveAll(s.path("postgres")); err != nil {
			return err
		}
		s.state.PGPassword, s.state.PGDir = randomSecret(), ""
	}
	if os.Geteuid() != 0 || s.state.PGDir != "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(s.path("postgres"), "data", "PG_VERSION")); err == nil {
		return nil // a stack from before private directories: keep its data where it is
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root, PostgreSQL needs the 'postgres' system user (install the Debian package postgresql): %w", err)
	}
	dir, err := os.MkdirTemp(pgBase(u), "hstack-dev-")
	if err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		return errors.Join(err, os.Remove(dir))
	}
	s.state.PGDir = dir
	link := s.path("logs", "postgres.log")
	if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Symlink(s.pgLog(), link); err != nil {
		return err
	}
	return s.saveState()
}

// removePGData removes a private data directory; data under the stack's
// own directory stays until the next fresh start, as before.
func (s *Stack) removePGData() error {
	if s.state.PGDir == "" {
		return nil
	}
	// Logs outlive the stack: keep the server's in logs/.
	if b, err := os.ReadFile(s.pgLog()); err == nil {
		link := s.path("logs", "postgres.log")
		if err := os.Remove(link); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(link, b, 0o600); err != nil { // #nosec G703 -- link is logs/postgres.log of this stack
			return err
		}
	}
	if err := os.RemoveAll(s.state.PGDir); err != nil {
		return err
	}
	s.state.PGDir = ""
	return nil
}

func (s *Stack) pgPID() int                        { return s.pg().PID() }
func (s *Stack) pgReady(ctx context.Context) error { return s.pg().Ready(ctx) }

// SuperuserURL is the connection URL of the stack's postgres superuser. It
// carries the password: hand it to Vault, never to a log.
func (s *Stack) SuperuserURL() string { return s.pg().SuperuserURL() }
