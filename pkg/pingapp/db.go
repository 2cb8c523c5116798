package pingapp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Pool is a connection pool for one set of credentials.
type Pool interface {
	// Ping does a round trip to the database.
	Ping(ctx context.Context) error
	// Close closes the pool, waiting for connections in use to be returned.
	Close()
}

// OpenFunc creates a Pool for a connection string. It need not connect: the
// DB verifies new credentials itself before using them.
type OpenFunc func(ctx context.Context, dsn string) (Pool, error)

// DBConfig configures [OpenDB].
type DBConfig struct {
	// File holds the connection string and is re-read on change; it takes
	// precedence over URL.
	File string
	// URL is a fixed connection string, used when File is empty.
	URL string
	// Open defaults to [OpenPgx]; tests substitute a fake.
	Open OpenFunc
	// Logger defaults to discarding.
	Logger *slog.Logger
	// VerifyTimeout bounds the ping that vets new credentials; default 5s.
	VerifyTimeout time.Duration
	// Debounce coalesces bursts of file events; default 100ms.
	Debounce time.Duration
}

// ErrClosed is returned by a closed DB.
var ErrClosed = errors.New("database pool closed")

// DB is a [Pinger] whose connection pool is replaced when its credentials
// file changes. Readers never block on a reload: the current pool is held in
// an atomic pointer, and a replaced pool is closed in the background so that
// requests already using it finish normally.
type DB struct {
	cfg DBConfig
	log *slog.Logger
	cur atomic.Pointer[generation]

	mu        sync.Mutex // serializes reloads and Close
	closed    bool
	sum       [sha256.Size]byte // of the connection string in use
	stopWatch context.CancelFunc
	bg        sync.WaitGroup // watcher and closing of replaced pools
}

type generation struct {
	pool    Pool
	n       uint64
	secrets []string // for scrubbing errors produced by this pool
}

// OpenDB reads the credentials and creates the first pool. It does not
// connect: a database that is down at start is reported by /readyz rather
// than by refusing to start, which would only turn an outage into a crash
// loop.
func OpenDB(ctx context.Context, cfg DBConfig) (*DB, error) {
	if cfg.Open == nil {
		cfg.Open = OpenPgx
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.VerifyTimeout <= 0 {
		cfg.VerifyTimeout = 5 * time.Second
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 100 * time.Millisecond
	}
	d := &DB{cfg: cfg, log: cfg.Logger}

	dsn, source := cfg.URL, "DATABASE_URL"
	if cfg.File != "" {
		var err error
		if dsn, err = readDSN(cfg.File); err != nil {
			return nil, err
		}
		source = cfg.File
	} else if dsn == "" {
		return nil, errors.New("no database connection string configured")
	}
	safe, secrets := redactDSN(dsn)
	pool, err := cfg.Open(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("database connection string from %s: %s", source, scrub(err.Error(), secrets))
	}
	d.sum = sha256.Sum256([]byte(dsn))
	d.cur.Store(&generation{pool: pool, n: 1, secrets: secrets})
	d.log.Info("database configured", "source", source, "dsn", safe, "generation", 1)
	return d, nil
}

func readDSN(path string) (string, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the credentials file the job's template renders (DBConfig.File)
	if err != nil {
		return "", fmt.Errorf("read database credentials: %w", err)
	}
	dsn := strings.TrimSpace(string(b))
	if dsn == "" {
		return "", fmt.Errorf("read database credentials: %s is empty", path)
	}
	return dsn, nil
}

// Ping does a round trip on the current pool. If that fails while a newer
// pool has been swapped in meanwhile, it retries on the newer one: the
// failure was most likely caused by the rotation itself (old pool closed
// under the request, old credentials revoked), and the caller should not see
// it. The retry is bounded so that back-to-back rotations cannot keep a
// request looping. Error messages are short and free of secrets.
func (d *DB) Ping(ctx context.Context) error {
	const maxAttempts = 3
	g := d.cur.Load()
	if g == nil {
		return ErrClosed
	}
	for attempt := 1; ; attempt++ {
		err := g.pool.Ping(ctx)
		if err == nil {
			return nil
		}
		n := d.cur.Load()
		if n == nil || n == g || ctx.Err() != nil || attempt == maxAttempts {
			return &dbError{msg: oneLine(scrub(innermost(err).Error(), g.secrets)), err: err}
		}
		g = n
	}
}

// dbError carries a short, scrubbed message while still letting callers
// test the cause (e.g. context.DeadlineExceeded) with errors.Is.
type dbError struct {
	msg string
	err error
}

func (e *dbError) Error() string { return e.msg }
func (e *dbError) Unwrap() error { return e.err }

// Generation counts the pools this DB has used, starting at 1; it is 0 once
// closed.
func (d *DB) Generation() uint64 {
	if g := d.cur.Load(); g != nil {
		return g.n
	}
	return 0
}

// Reload re-reads the credentials file (as on SIGHUP). If the content
// changed it builds a new pool, verifies it and swaps it in; otherwise, or
// when credentials come from a fixed URL, it does nothing. On error the
// current pool stays in use. It reports whether the pool was replaced.
func (d *DB) Reload(ctx context.Context) (bool, error) {
	return d.reload(ctx, "requested")
}

func (d *DB) reload(ctx context.Context, trigger string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false, ErrClosed
	}
	if d.cfg.File == "" {
		return false, nil
	}
	safe, changed, err := d.reloadLocked(ctx)
	switch {
	case err != nil:
		d.log.Error("database credentials reload failed; keeping current pool",
			"trigger", trigger, "generation", d.Generation(), "err", err)
	case changed:
		d.log.Info("database credentials reloaded", "trigger", trigger, "generation", d.Generation(), "dsn", safe)
	case trigger == "requested":
		// File events also fire for unrelated files in the directory, so only
		// explicit requests get an answer.
		d.log.Info("database credentials unchanged", "trigger", trigger, "generation", d.Generation())
	}
	return changed, err
}

// reloadLocked returns the redacted new connection string if it swapped.
func (d *DB) reloadLocked(ctx context.Context) (string, bool, error) {
	dsn, err := readDSN(d.cfg.File)
	if err != nil {
		return "", false, err
	}
	sum := sha256.Sum256([]byte(dsn))
	if sum == d.sum {
		return "", false, nil
	}
	safe, secrets := redactDSN(dsn)
	pool, err := d.cfg.Open(ctx, dsn)
	if err != nil {
		return "", false, fmt.Errorf("new credentials: %s", scrub(err.Error(), secrets))
	}
	vctx, cancel := context.WithTimeout(ctx, d.cfg.VerifyTimeout)
	defer cancel()
	if err := pool.Ping(vctx); err != nil {
		pool.Close()
		return "", false, fmt.Errorf("new credentials failed verification: %s", oneLine(scrub(err.Error(), secrets)))
	}
	old := d.cur.Load()
	d.cur.Store(&generation{pool: pool, n: old.n + 1, secrets: secrets})
	d.sum = sum
	// Close blocks until borrowed connections come back, i.e. until requests
	// that picked up the old pool are done; nobody should wait for that.
	d.bg.Go(old.pool.Close)
	return safe, true, nil
}

// Watch starts reloading whenever the credentials file changes, until Close.
// It watches the directory rather than the file because templating tools
// replace the file by renaming a new one over it, which would orphan a watch
// on the file itself. It does nothing when credentials come from a fixed URL.
func (d *DB) Watch() error {
	if d.cfg.File == "" {
		return nil
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("watch database credentials: %w", err)
	}
	if err := w.Add(filepath.Dir(d.cfg.File)); err != nil {
		return fmt.Errorf("watch database credentials: %w", errors.Join(err, w.Close()))
	}
	d.mu.Lock()
	if d.closed || d.stopWatch != nil {
		d.mu.Unlock()
		_ = w.Close() // an unused watcher: what to report is why it is not used, below
		if d.closed {
			return ErrClosed
		}
		return errors.New("watch database credentials: already watching")
	}
	ctx, cancel := context.WithCancel(context.Background())
	d.stopWatch = cancel
	d.bg.Go(func() { d.watchLoop(ctx, w) })
	d.mu.Unlock()
	return nil
}

func (d *DB) watchLoop(ctx context.Context, w *fsnotify.Watcher) {
	defer w.Close()
	const (
		minRetry = time.Second
		maxRetry = 30 * time.Second
	)
	retry := time.Duration(0)
	timer := time.NewTimer(0) // fires at once: catch changes made before the watch was in place
	for {
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case ev, ok := <-w.Events:
			if !ok {
				return
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			timer.Reset(d.cfg.Debounce)
		case err, ok := <-w.Errors:
			if !ok {
				return
			}
			// Typically an event queue overflow: events may have been lost, so
			// look at the file anyway.
			d.log.Warn("database credentials watcher error", "err", err)
			timer.Reset(d.cfg.Debounce)
		case <-timer.C:
			if _, err := d.reload(ctx, "file changed"); err != nil && !errors.Is(err, ErrClosed) {
				// No further event may come (e.g. the new credentials were
				// not yet valid in the database), yet the old ones will
				// expire, so keep trying.
				retry = min(max(2*retry, minRetry), maxRetry)
				timer.Reset(retry)
			} else {
				retry = 0
			}
		}
	}
}

// Close stops watching, closes the current pool (waiting for connections in
// use) and waits for replaced pools to finish closing.
func (d *DB) Close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	if d.stopWatch != nil {
		d.stopWatch()
	}
	g := d.cur.Swap(nil)
	d.mu.Unlock()
	if g != nil {
		g.pool.Close()
	}
	d.bg.Wait()
}

// OpenPgx is the production [OpenFunc], backed by pgxpool.
func OpenPgx(ctx context.Context, dsn string) (Pool, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return pgxPool{p}, nil
}

type pgxPool struct{ p *pgxpool.Pool }

// Ping runs SELECT 1 rather than pgx's empty-statement ping so that the check
// exercises query execution, not just an open connection.
func (p pgxPool) Ping(ctx context.Context) error {
	var one int
	return p.p.QueryRow(ctx, "SELECT 1").Scan(&one)
}

func (p pgxPool) Close() { p.p.Close() }
