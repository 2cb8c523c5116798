package pingapp

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakePool stands in for pgxpool. A DSN containing "bad" fails every ping.
type fakePool struct {
	dsn    string
	pings  atomic.Int64
	closed atomic.Bool
	// onPing, if set, replaces the default behaviour.
	onPing func(ctx context.Context) error
}

func (p *fakePool) Ping(ctx context.Context) error {
	p.pings.Add(1)
	if p.closed.Load() {
		return errors.New("closed pool")
	}
	if p.onPing != nil {
		return p.onPing(ctx)
	}
	if strings.Contains(p.dsn, "bad") {
		return errors.New(`FATAL: password authentication failed (` + p.dsn + `)`)
	}
	return nil
}

func (p *fakePool) Close() { p.closed.Store(true) }

type fakeOpener struct {
	mu    sync.Mutex
	pools []*fakePool
}

func (o *fakeOpener) open(_ context.Context, dsn string) (Pool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p := &fakePool{dsn: dsn}
	o.pools = append(o.pools, p)
	return p, nil
}

func (o *fakeOpener) count() int { o.mu.Lock(); defer o.mu.Unlock(); return len(o.pools) }
func (o *fakeOpener) pool(i int) *fakePool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.pools[i]
}

// writeAtomic replaces path the way Nomad's template runner does: write a
// temporary file, then rename it over the target.
func writeAtomic(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func openTestDB(t *testing.T, content string) (*DB, *fakeOpener, string, *syncBuffer) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.env")
	writeAtomic(t, path, content)
	o := &fakeOpener{}
	logs := &syncBuffer{}
	db, err := OpenDB(context.Background(), DBConfig{File: path, Open: o.open,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db, o, path, logs
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestDBReload(t *testing.T) {
	db, o, path, logs := openTestDB(t, "host=db user=v-1 password=first-secret\n")
	if db.Generation() != 1 || o.count() != 1 || o.pool(0).dsn != "host=db user=v-1 password=first-secret" {
		t.Fatalf("initial: generation %d, %d pools", db.Generation(), o.count())
	}

	// Same content, different surrounding whitespace: no rebuild.
	writeAtomic(t, path, "  host=db user=v-1 password=first-secret  \n\n")
	if changed, err := db.Reload(context.Background()); changed || err != nil {
		t.Fatalf("unchanged reload: %v, %v", changed, err)
	}
	if o.count() != 1 {
		t.Fatalf("unchanged file rebuilt the pool")
	}

	writeAtomic(t, path, "host=db user=v-2 password=second-secret")
	if changed, err := db.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("changed reload: %v, %v", changed, err)
	}
	if db.Generation() != 2 || o.count() != 2 || o.pool(1).pings.Load() != 1 {
		t.Fatalf("after reload: generation %d, %d pools, new pool verified %d times",
			db.Generation(), o.count(), o.pool(1).pings.Load())
	}
	if err := db.Ping(context.Background()); err != nil || o.pool(1).pings.Load() != 2 {
		t.Fatalf("Ping after reload: %v (new pool pings %d)", err, o.pool(1).pings.Load())
	}
	waitFor(t, "old pool to close", o.pool(0).closed.Load)
	if o.pool(1).closed.Load() {
		t.Fatal("new pool closed")
	}

	log := logs.String()
	if !strings.Contains(log, "database credentials reloaded") || !strings.Contains(log, "user=v-2") {
		t.Errorf("reload not logged:\n%s", log)
	}
	if strings.Contains(log, "secret") {
		t.Errorf("log leaks a password:\n%s", log)
	}
}

func TestDBReloadKeepsPoolOnFailure(t *testing.T) {
	db, o, path, logs := openTestDB(t, "host=db user=v-1 password=good-secret")

	for _, content := range []string{"host=db user=v-2 password=bad-secret", "", "\n"} {
		writeAtomic(t, path, content)
		if changed, err := db.Reload(context.Background()); changed || err == nil {
			t.Fatalf("reload to %q: changed=%v err=%v, want failure", content, changed, err)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error leaks the password: %v", err)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Reload(context.Background()); err == nil {
		t.Fatal("reload of a missing file succeeded")
	}

	if db.Generation() != 1 || o.pool(0).closed.Load() {
		t.Fatal("failed reload replaced or closed the working pool")
	}
	if !o.pool(1).closed.Load() {
		t.Error("rejected pool left open")
	}
	if err := db.Ping(context.Background()); err != nil {
		t.Fatalf("Ping on kept pool: %v", err)
	}
	if log := logs.String(); !strings.Contains(log, "reload failed; keeping current pool") || strings.Contains(log, "secret") {
		t.Errorf("failure log wrong or leaky:\n%s", log)
	}

	// A failure must not stick: fixed credentials are taken.
	writeAtomic(t, path, "host=db user=v-3 password=good-secret")
	if changed, err := db.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("reload after fix: %v, %v", changed, err)
	}
}

func TestDBWatch(t *testing.T) {
	db, o, path, _ := openTestDB(t, "host=db user=v-1")
	if err := db.Watch(); err != nil {
		t.Fatal(err)
	}

	writeAtomic(t, path, "host=db user=v-2")
	waitFor(t, "reload after rename", func() bool { return db.Generation() == 2 })

	// In-place rewrite, as a plain editor or `echo >` would do.
	if err := os.WriteFile(path, []byte("host=db user=v-3"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reload after write", func() bool { return db.Generation() == 3 })

	// Activity that leaves the content alone must not rebuild.
	writeAtomic(t, path, "host=db user=v-3\n")
	if err := os.WriteFile(filepath.Join(filepath.Dir(path), "unrelated"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	time.Sleep(250 * time.Millisecond) // > debounce, so a reload would have happened
	if db.Generation() != 3 || o.count() != 3 {
		t.Fatalf("unchanged content rebuilt: generation %d, %d pools", db.Generation(), o.count())
	}

	if err := db.Watch(); err == nil {
		t.Error("second Watch succeeded")
	}
}

// TestDBPingRetriesAfterRotation covers a request that picked up the old
// pool just before it was replaced and closed: it must succeed on the new
// pool rather than fail.
func TestDBPingRetriesAfterRotation(t *testing.T) {
	db, o, path, _ := openTestDB(t, "host=db user=v-1 password=old-secret")
	entered, release := make(chan struct{}), make(chan struct{})
	o.pool(0).onPing = func(context.Context) error {
		close(entered)
		<-release
		return errors.New("FATAL: password authentication failed for user v-1 password=old-secret")
	}
	res := make(chan error, 1)
	go func() { res <- db.Ping(context.Background()) }()
	<-entered

	writeAtomic(t, path, "host=db user=v-2 password=new-secret")
	if changed, err := db.Reload(context.Background()); !changed || err != nil {
		t.Fatalf("reload: %v, %v", changed, err)
	}
	close(release)
	if err := <-res; err != nil {
		t.Fatalf("Ping during rotation failed: %v", err)
	}
	if n := o.pool(1).pings.Load(); n != 2 { // verification + retry
		t.Errorf("new pool pinged %d times, want 2", n)
	}

	// Without a newer pool there is nothing to retry on; the error is
	// reported, short and scrubbed.
	o.pool(1).onPing = func(context.Context) error {
		return errors.New("FATAL: password authentication failed (new-secret)")
	}
	err := db.Ping(context.Background())
	if err == nil || strings.Contains(err.Error(), "new-secret") || !strings.Contains(err.Error(), "REDACTED") {
		t.Errorf("Ping error = %v, want a scrubbed failure", err)
	}
}

func TestDBClose(t *testing.T) {
	db, o, _, _ := openTestDB(t, "host=db")
	if err := db.Watch(); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if !o.pool(0).closed.Load() {
		t.Error("pool not closed")
	}
	if err := db.Ping(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Ping after Close = %v", err)
	}
	if _, err := db.Reload(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Reload after Close = %v", err)
	}
	if db.Generation() != 0 {
		t.Errorf("Generation after Close = %d", db.Generation())
	}
	db.Close() // idempotent
}

func TestDBFromURL(t *testing.T) {
	o := &fakeOpener{}
	db, err := OpenDB(context.Background(), DBConfig{URL: "postgres://u:pw@db/app", Open: o.open})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Watch(); err != nil {
		t.Errorf("Watch without a file: %v", err)
	}
	if changed, err := db.Reload(context.Background()); changed || err != nil {
		t.Errorf("Reload without a file: %v, %v", changed, err)
	}
	if o.count() != 1 || o.pool(0).dsn != "postgres://u:pw@db/app" {
		t.Errorf("pools: %d", o.count())
	}

	if _, err := OpenDB(context.Background(), DBConfig{File: filepath.Join(t.TempDir(), "missing"), Open: o.open}); err == nil {
		t.Error("OpenDB with a missing file succeeded")
	}
}
