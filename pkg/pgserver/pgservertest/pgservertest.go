// Package pgservertest starts a private PostgreSQL for one test.
package pgservertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hstack-dev/hstack/pkg/pgserver"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// Start boots a server on a free port and stops it when the test ends. It
// skips when PostgreSQL is not installed, except in CI (CI set), where that
// is a failure.
func Start(t testing.TB) *pgserver.Server {
	t.Helper()
	bin, err := tools.FindPostgres()
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	// Not t.TempDir(): its parent is 0700, and the server may run as the
	// postgres user.
	dir, err := os.MkdirTemp("", "hstack-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // it only picked a free port
	pw := make([]byte, 16)
	rand.Read(pw)
	s := &pgserver.Server{
		BinDir: bin, Dir: filepath.Join(dir, "pg"), Port: port,
		Password: hex.EncodeToString(pw), LogPath: filepath.Join(dir, "postgres.log"),
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("stopping postgres: %v", err)
		}
		_ = os.RemoveAll(dir) // best effort, like t.TempDir's own cleanup
	})
	if err := s.Init(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		if err := s.Ready(ctx); err == nil {
			return s
		} else if ctx.Err() != nil {
			t.Fatalf("postgres not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
