package devstack

import (
	"context"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// TestPostgresUnder0700ParentAsRoot: a newcomer's clone under root's 0700
// home directory. The postgres user cannot enter it, so as root the data
// goes to a private directory of the postgres user outside the stack,
// recorded in the state; the server initialises, starts and answers
// there; stopping the stack removes the directory.
func TestPostgresUnder0700ParentAsRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a real PostgreSQL")
	}
	if os.Geteuid() != 0 {
		t.Skip("the rule is for root: as another user PostgreSQL runs as that user, in the stack directory")
	}
	bin, err := tools.FindPostgres()
	if err != nil {
		testenv.Missing(t, "PostgreSQL's binaries: "+err.Error())
	}
	pgUser, err := user.Lookup("postgres")
	if err != nil {
		testenv.Missing(t, "the postgres system user: "+err.Error())
	}
	home := filepath.Join(t.TempDir(), "root-home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{Dir: filepath.Join(home, "hstack", ".hstack"), Ports: ports, out: io.Discard, pgBinDir: bin}
	if err := os.MkdirAll(s.path("logs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := s.carryPostgres(nil); err != nil {
		t.Fatal(err)
	}
	dir := s.state.PGDir
	t.Cleanup(func() { _ = s.pg().Stop(); _ = os.RemoveAll(dir) })
	if dir == "" || strings.HasPrefix(dir, home+string(filepath.Separator)) {
		t.Fatalf("data directory %q: want a private one outside %s", dir, home)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if uid := strconv.Itoa(int(st.Sys().(*syscall.Stat_t).Uid)); uid != pgUser.Uid || st.Mode().Perm() != 0o700 {
		t.Errorf("%s: owner uid %s mode %v, want the postgres user's (%s) and 0700", dir, uid, st.Mode().Perm(), pgUser.Uid)
	}
	if recorded, err := Open(s.Dir); err != nil || recorded.state.PGDir != dir {
		t.Fatalf("state records %q (%v), want %q", recorded.state.PGDir, err, dir)
	}

	if err := s.pg().Init(); err != nil {
		t.Fatal(err)
	}
	if err := s.pg().Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := s.pgReady(ctx); err != nil {
		t.Fatal(err)
	}
	if !processAlive(s.pgPID(), s.marker(Postgres)) {
		t.Errorf("postgres (pid %d) not found by its marker %s", s.pgPID(), s.marker(Postgres))
	}

	// What Down does for PostgreSQL.
	if err := s.pg().Stop(); err != nil {
		t.Fatal(err)
	}
	if err := s.removePGData(); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(s.path("logs", "postgres.log")); err != nil || len(b) == 0 {
		t.Errorf("logs/postgres.log after stopping: %d bytes, %v; want the server's log kept", len(b), err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after stopping: %v", dir, err)
	}
	if s.state.PGDir != "" {
		t.Errorf("state still records %q", s.state.PGDir)
	}
}
