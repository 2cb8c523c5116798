package pingapp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Pinger checks the database with a round trip. Errors should be short and
// must not contain secrets: their text is sent to HTTP clients.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Config configures a [Server].
type Config struct {
	DB     Pinger // required
	Faults Faults
	// Drain is how long Serve keeps serving, while /readyz reports 503,
	// after its context is cancelled.
	Drain time.Duration
	// ShutdownTimeout bounds waiting for in-flight requests after the drain;
	// default 5s.
	ShutdownTimeout time.Duration
	// PingTimeout bounds each database check; default 2s.
	PingTimeout time.Duration
	// Logger defaults to discarding.
	Logger *slog.Logger
	// Rand returns numbers in [0,1) to decide injected errors; default
	// math/rand/v2.Float64.
	Rand func() float64
}

// Server is the pingapp HTTP application.
type Server struct {
	cfg          Config
	log          *slog.Logger
	handler      http.Handler
	shuttingDown atomic.Bool
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
}

// New validates cfg and builds the handlers and metrics. Each Server has its
// own Prometheus registry, so several can coexist (as in tests).
func New(cfg Config) (*Server, error) {
	if cfg.DB == nil {
		return nil, errors.New("pingapp: Config.DB is required")
	}
	if cfg.Faults.ErrorRate < 0 || cfg.Faults.ErrorRate > 1 {
		return nil, fmt.Errorf("pingapp: Faults.ErrorRate %v not in [0,1]", cfg.Faults.ErrorRate)
	}
	if cfg.Drain < 0 || cfg.Faults.Latency < 0 {
		return nil, errors.New("pingapp: negative duration in Config")
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	s := &Server{cfg: cfg, log: cfg.Logger}

	reg := prometheus.NewRegistry()
	s.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingapp_http_requests_total",
		Help: "HTTP requests by route pattern and status code.",
	}, []string{"route", "code"})
	s.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "pingapp_http_request_duration_seconds",
		Help:    "HTTP request latency by route pattern.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route"})
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "pingapp_build_info",
		Help: "Always 1; labels identify the running build.",
	}, []string{"version", "commit"})
	buildInfo.WithLabelValues(Version, Commit).Set(1)
	reg.MustRegister(s.requests, s.duration, buildInfo,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	for pattern, h := range map[string]http.Handler{
		"/ping":    http.HandlerFunc(s.ping),
		"/healthz": http.HandlerFunc(s.healthz),
		"/readyz":  http.HandlerFunc(s.readyz),
		"/metrics": promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}),
	} {
		mux.Handle(pattern, s.instrument(pattern, onlyGet(h)))
	}
	// Everything unmatched shares one label value, so scanners probing random
	// paths cannot create unbounded series.
	mux.Handle("/", s.instrument("other", http.NotFoundHandler()))
	s.handler = mux
	return s, nil
}

// Handler returns the application's HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// BeginShutdown makes /readyz fail from now on, so that load balancers stop
// sending traffic before the server stops accepting it.
func (s *Server) BeginShutdown() { s.shuttingDown.Store(true) }

// Serve serves on ln until ctx is cancelled, then shuts down gracefully:
// it marks itself not ready, keeps serving for Config.Drain so health
// checks can take the instance out of rotation, and finally waits up to
// Config.ShutdownTimeout for in-flight requests. It returns nil after a
// clean shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		// Room for the slowest legitimate response: a ping at its timeout
		// plus any injected latency.
		WriteTimeout: 10*time.Second + s.cfg.PingTimeout + s.cfg.Faults.Latency,
		IdleTimeout:  60 * time.Second,
		ErrorLog:     slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	conns := &connTracker{active: map[net.Conn]struct{}{}}
	srv.ConnState = conns.track
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}

	s.BeginShutdown()
	// Closing connections after each response moves keep-alive clients to
	// other instances during the drain instead of at the hard stop.
	srv.SetKeepAlivesEnabled(false)
	s.log.Info("shutdown started: not ready, draining", "drain", s.cfg.Drain)
	drain := time.NewTimer(s.cfg.Drain)
	defer drain.Stop()
	select {
	case <-drain.C:
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	}

	if err := shutdown(srv, conns, s.cfg.ShutdownTimeout); err != nil {
		return err
	}
	<-errc // http.ErrServerClosed, returned as soon as Shutdown begins
	s.log.Info("http server stopped")
	return nil
}

// shutdown stops srv once no request is in flight, or after timeout.
//
// http.Server.Shutdown alone is not enough: it counts a connection that has
// not sent a request yet as busy for its first 5 seconds, and HTTP clients
// and proxies routinely dial spare connections they never use. Shutdown
// would then wait out the timeout on every deploy. So once no connection is
// active, the rest are closed.
func shutdown(srv *http.Server, conns *connTracker, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }() // closes listeners and idle connections at once
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("shutdown: requests still running after %s: %w", timeout, errors.Join(err, srv.Close()))
			}
			return nil
		case <-tick.C:
			if conns.busy() == 0 {
				return srv.Close()
			}
		}
	}
}

// connTracker counts connections with a request in progress. A connection
// leaves StateActive only after its response has been written out, so
// closing when none is active cuts no response short.
type connTracker struct {
	mu     sync.Mutex
	active map[net.Conn]struct{}
}

func (c *connTracker) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state == http.StateActive {
		c.active[conn] = struct{}{}
	} else {
		delete(c.active, conn)
	}
}

func (c *connTracker) busy() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.active)
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	l := prometheus.Labels{"route": route}
	return promhttp.InstrumentHandlerDuration(s.duration.MustCurryWith(l),
		promhttp.InstrumentHandlerCounter(s.requests.MustCurryWith(l), h))
}

func onlyGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			text(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	if d := s.cfg.Faults.Latency; d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			text(w, http.StatusServiceUnavailable, "request canceled")
			return
		}
	}
	if rate := s.cfg.Faults.ErrorRate; rate > 0 && s.cfg.Rand() < rate {
		text(w, http.StatusInternalServerError, "injected fault")
		return
	}
	if err := s.checkDB(r.Context()); err != nil {
		text(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	text(w, http.StatusOK, "pong")
}

func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	if s.cfg.Faults.FailHealth {
		text(w, http.StatusServiceUnavailable, "injected fault")
		return
	}
	text(w, http.StatusOK, "ok")
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.cfg.Faults.FailHealth:
		text(w, http.StatusServiceUnavailable, "injected fault")
	case s.shuttingDown.Load():
		text(w, http.StatusServiceUnavailable, "shutting down")
	default:
		if err := s.checkDB(r.Context()); err != nil {
			text(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		text(w, http.StatusOK, "ok")
	}
}

// checkDB returns an error whose text is fit for a response body.
func (s *Server) checkDB(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PingTimeout)
	defer cancel()
	err := s.cfg.DB.Ping(ctx)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		return fmt.Errorf("database unreachable: no answer within %s", s.cfg.PingTimeout)
	default:
		return fmt.Errorf("database unreachable: %s", oneLine(err.Error()))
	}
}

func text(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	// Health answers go stale at once; no proxy should serve them from cache.
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n") // the status line is sent; a client gone by now is nobody to tell
}
