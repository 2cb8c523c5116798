package devstack

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PostgreSQL refuses to run as root, and CI runs as root: there the server
// runs as the postgres system user, on a data directory that user owns.
func pgRunAs() (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the 'postgres' system user (install the Debian package postgresql): %w", err)
	}
	return u, nil
}

func (s *Stack) pgCommand(bin string, args ...string) (*exec.Cmd, error) {
	u, err := pgRunAs()
	if err != nil {
		return nil, err
	}
	full := filepath.Join(s.pgBinDir, bin)
	if u == nil {
		return exec.Command(full, args...), nil
	}
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", full}, args...)...), nil
}

func (s *Stack) pgChown(paths ...string) error {
	u, err := pgRunAs()
	if err != nil || u == nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Chown(p, uid, gid); err != nil {
			return err
		}
	}
	return nil
}

// checkTraversable makes sure the postgres user can reach dir: a root-owned
// 0700 parent (a test's temp dir, a home directory) would make initdb fail
// with a confusing permission error.
func checkTraversable(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	for d := dir; ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("PostgreSQL runs as the postgres user, who cannot enter %s (mode %v): put the stack directory somewhere world-traversable or chmod o+x %s", d, st.Mode().Perm(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (s *Stack) pgInit() error {
	data := s.path("postgres", "data")
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); err == nil {
		return nil
	}
	if err := checkTraversable(s.Dir); err != nil {
		return err
	}
	pgdir := s.path("postgres")
	if err := os.MkdirAll(pgdir, 0o700); err != nil {
		return err
	}
	pwfile := filepath.Join(pgdir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.state.PGPassword+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := s.pgChown(pgdir, pwfile); err != nil {
		return err
	}
	cmd, err := s.pgCommand("initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8", "--no-instructions")
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

func (s *Stack) pgStart() (int, error) {
	logPath := s.path("logs", "postgres.log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return 0, err
	}
	f.Close()
	if err := s.pgChown(logPath); err != nil {
		return 0, err
	}
	cmd, err := s.pgCommand("pg_ctl", "-D", s.path("postgres", "data"), "-l", logPath,
		"-o", s.pgOptions(), "-w", "-t", "60", "start")
	if err != nil {
		return 0, err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pg_ctl start: %w\n%s(see %s)", err, out, logPath)
	}
	return s.pgPID(), nil
}

// pgPID reads the postmaster's pid from its lock file; pg_ctl itself exits
// once the server is up, so its own pid is of no use.
func (s *Stack) pgPID() int {
	b, err := os.ReadFile(s.path("postgres", "data", "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	return pid
}

func (s *Stack) pgStop() error {
	if !processAlive(s.pgPID(), "postgres") {
		return nil
	}
	cmd, err := s.pgCommand("pg_ctl", "-D", s.path("postgres", "data"), "-m", "fast", "-w", "-t", "30", "stop")
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// SuperuserURL is the connection URL of the stack's postgres superuser. It
// carries the password: hand it to Vault, never to a log.
func (s *Stack) SuperuserURL() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", s.state.PGPassword),
		Host:     loopback(s.Ports.Postgres),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

func (s *Stack) pgReady(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.SuperuserURL())
	if err != nil {
		return fmt.Errorf("postgres on %s: %w", loopback(s.Ports.Postgres), err)
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}
