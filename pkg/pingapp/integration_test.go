package pingapp

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hstack-dev/hstack/pkg/pgserver/pgservertest"
)

// TestIntegrationPostgres runs the real server and pgx pool against the
// PostgreSQL (PINGAPP_TEST_DATABASE_URL, or a private server), rotates the credentials
// file under continuous /ping load and expects no failed request.
func TestIntegrationPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: needs PostgreSQL")
	}
	// PINGAPP_TEST_DATABASE_URL points the test at an existing server;
	// otherwise it boots a private one.
	base := os.Getenv("PINGAPP_TEST_DATABASE_URL")
	if base == "" {
		base = pgservertest.Start(t).SuperuserURL()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect with PINGAPP_TEST_DATABASE_URL: %v", err)
	}
	defer admin.Close(context.Background())

	// application_name tells the generations apart in pg_stat_activity.
	tag := fmt.Sprintf("pingapp_it_%d", os.Getpid())
	gen1, gen2 := withParam(t, base, "application_name", tag+"_1"), withParam(t, base, "application_name", tag+"_2")
	sessions := func(app string) int {
		var n int
		err := admin.QueryRow(ctx, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1", app).Scan(&n)
		if err != nil {
			t.Fatalf("pg_stat_activity: %v", err)
		}
		return n
	}

	creds := filepath.Join(t.TempDir(), "db.env")
	writeAtomic(t, creds, gen1+"\n")
	db, err := OpenDB(ctx, DBConfig{File: creds, Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Watch(); err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{DB: db})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srvCtx, stopSrv := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(srvCtx, ln) }()
	app := "http://" + ln.Addr().String()

	expect(t, "GET", app+"/ping", 200, "pong\n")
	expect(t, "GET", app+"/readyz", 200, "ok\n")
	if sessions(tag+"_1") == 0 {
		t.Fatal("no session with the first credentials")
	}

	// Load that must not see a single failure across rotations.
	var ok, failed atomic.Int64
	var firstFailure atomic.Value
	stopLoad := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stopLoad:
					return
				default:
				}
				resp, err := http.Get(app + "/ping")
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close() // the test has what it needs from the response
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s", resp.StatusCode, body))
					continue
				}
				ok.Add(1)
			}
		})
	}

	time.Sleep(50 * time.Millisecond)
	writeAtomic(t, creds, gen2+"\n")
	waitFor(t, "reload to the second credentials", func() bool { return db.Generation() == 2 })
	waitFor(t, "old pool to disconnect", func() bool { return sessions(tag+"_1") == 0 && sessions(tag+"_2") > 0 })

	// Credentials the database rejects are not taken.
	writeAtomic(t, creds, withUser(t, base, "pingapp_no_such_role")+"\n")
	if changed, err := db.Reload(ctx); changed || err == nil {
		t.Fatalf("reload to a nonexistent role: changed=%v err=%v", changed, err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stopLoad)
	wg.Wait()

	if db.Generation() != 2 {
		t.Errorf("generation %d after rejected credentials, want 2", db.Generation())
	}
	t.Logf("/ping during rotation: %d ok, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("during rotation: %d ok, %d failed (first: %v)", ok.Load(), failed.Load(), firstFailure.Load())
	}
	expect(t, "GET", app+"/ping", 200, "pong\n")

	stopSrv()
	if err := <-served; err != nil {
		t.Fatalf("Serve: %v", err)
	}
	db.Close()
	// Backends exit shortly after the client hangs up, hence the wait.
	waitFor(t, "sessions to end after Close", func() bool { return sessions(tag+"_2") == 0 })
}

func withParam(t *testing.T, dsn, key, value string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set(key, value)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " " + key + "=" + value // later keywords override earlier ones
}

func withUser(t *testing.T, dsn, user string) string {
	t.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatal(err)
		}
		u.User = url.User(user)
		return u.String()
	}
	return dsn + " user=" + user
}

// testWriter sends server logs to the test log, shown on failure or -v.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
