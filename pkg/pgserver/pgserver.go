// Package pgserver runs a private PostgreSQL server: initdb and pg_ctl on a
// data directory of its own, on a loopback port, with password
// authentication. The dev stack and the tests use it instead of a system
// service, so nothing depends on what the machine already runs.
package pgserver

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

// Server is one PostgreSQL instance. Dir holds data/, the socket and the
// password file used once by initdb.
type Server struct {
	BinDir   string // holds initdb, pg_ctl, postgres
	Dir      string
	Port     int
	Password string // of the "postgres" superuser; a secret
	LogPath  string
}

// PostgreSQL refuses to run as root, and CI runs as root: there the server
// runs as the postgres system user, on a data directory that user owns.
func runAs() (*user.User, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, PostgreSQL needs the 'postgres' system user (install the Debian package postgresql): %w", err)
	}
	return u, nil
}

func (s *Server) command(bin string, args ...string) (*exec.Cmd, error) {
	u, err := runAs()
	if err != nil {
		return nil, err
	}
	full := filepath.Join(s.BinDir, bin)
	// #nosec G204 -- bin is one of PostgreSQL's own programs (initdb, pg_ctl) in the
	// directory pkg/tools found; the arguments are built here, not taken from input.
	if u == nil {
		return exec.Command(full, args...), nil
	}
	return exec.Command("runuser", append([]string{"-u", "postgres", "--", full}, args...)...), nil // #nosec G204 -- as above
}

func chownToPostgres(paths ...string) error {
	u, err := runAs()
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
			return fmt.Errorf("PostgreSQL runs as the postgres user, who cannot enter %s (mode %v): use a world-traversable directory or chmod o+x %s", d, st.Mode().Perm(), d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

func (s *Server) dataDir() string { return filepath.Join(s.Dir, "data") }

// Initialized reports whether initdb has run in Dir.
func (s *Server) Initialized() bool {
	_, err := os.Stat(filepath.Join(s.dataDir(), "PG_VERSION"))
	return err == nil
}

// Init runs initdb unless Dir already holds a cluster.
func (s *Server) Init() error {
	if s.Initialized() {
		return nil
	}
	parent := filepath.Dir(s.Dir)
	if err := checkTraversable(parent); err != nil {
		return err
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	pwfile := filepath.Join(s.Dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(s.Password+"\n"), 0o600); err != nil {
		return err
	}
	defer os.Remove(pwfile)
	if err := chownToPostgres(s.Dir, pwfile); err != nil {
		return err
	}
	cmd, err := s.command("initdb", "-D", s.dataDir(), "-U", "postgres", "--pwfile", pwfile,
		"--auth-host=scram-sha-256", "--auth-local=scram-sha-256", "--encoding=UTF8", "--no-instructions")
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	return nil
}

// options override postgresql.conf on the command line, so one initdb
// serves any port.
func (s *Server) options() string {
	return strings.Join([]string{
		"-p", fmt.Sprint(s.Port),
		"-k", s.Dir,
		"-c", "listen_addresses=127.0.0.1",
		"-c", "password_encryption=scram-sha-256",
	}, " ")
}

// Start starts the server and waits until it accepts connections.
func (s *Server) Start() error {
	f, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := chownToPostgres(s.LogPath); err != nil {
		return err
	}
	cmd, err := s.command("pg_ctl", "-D", s.dataDir(), "-l", s.LogPath, "-o", s.options(), "-w", "-t", "60", "start")
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl start: %w\n%s(see %s)", err, out, s.LogPath)
	}
	return nil
}

// PID is the postmaster's pid, from its lock file; pg_ctl itself exits once
// the server is up, so its own pid is of no use. 0 when not running.
func (s *Server) PID() int {
	b, err := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, _ := strconv.Atoi(strings.TrimSpace(line))
	if pid <= 0 {
		return 0
	}
	if err := exec.Command("kill", "-0", strconv.Itoa(pid)).Run(); err != nil { // #nosec G204 -- a number from the server's own postmaster.pid
		return 0
	}
	return pid
}

// Stop shuts the server down (fast mode: open sessions are disconnected).
func (s *Server) Stop() error {
	if s.PID() == 0 {
		return nil
	}
	cmd, err := s.command("pg_ctl", "-D", s.dataDir(), "-m", "fast", "-w", "-t", "30", "stop")
	if err != nil {
		return err
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl stop: %w\n%s", err, out)
	}
	return nil
}

// Addr is host:port.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.Port) }

// SuperuserURL is the connection URL of the postgres superuser. It carries
// the password: hand it to Vault or a test, never to a log.
func (s *Server) SuperuserURL() string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword("postgres", s.Password),
		Host:     s.Addr(),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Ready checks that the superuser can log in and run a query.
func (s *Server) Ready(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.SuperuserURL())
	if err != nil {
		return fmt.Errorf("postgres on %s: %w", s.Addr(), err)
	}
	defer conn.Close(ctx)
	return conn.Ping(ctx)
}
