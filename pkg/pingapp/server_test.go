package pingapp

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeDB is a Pinger whose answer tests control.
type fakeDB struct {
	mu    sync.Mutex
	err   error
	calls atomic.Int64
	// hold, if set, makes the next Ping wait until it is closed.
	hold chan struct{}
}

func (f *fakeDB) Ping(ctx context.Context) error {
	f.calls.Add(1)
	f.mu.Lock()
	hold, err := f.hold, f.err
	f.hold = nil
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return err
}

func (f *fakeDB) setErr(err error) { f.mu.Lock(); f.err = err; f.mu.Unlock() }

func newTestServer(t *testing.T, cfg Config) (*Server, *httptest.Server) {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	t.Cleanup(ts.Close)
	return s, ts
}

func do(t *testing.T, method, url string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b), resp.Header
}

func expect(t *testing.T, method, url string, code int, body string) {
	t.Helper()
	gotCode, gotBody, _ := do(t, method, url)
	if gotCode != code || gotBody != body {
		t.Errorf("%s %s = %d %q, want %d %q", method, url, gotCode, gotBody, code, body)
	}
}

func TestNewRequiresDB(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without DB succeeded")
	}
	if _, err := New(Config{DB: &fakeDB{}, Faults: Faults{ErrorRate: 2}}); err == nil {
		t.Error("New with ErrorRate 2 succeeded")
	}
}

func TestPing(t *testing.T) {
	db := &fakeDB{}
	_, ts := newTestServer(t, Config{DB: db, PingTimeout: 50 * time.Millisecond})

	code, body, h := do(t, "GET", ts.URL+"/ping")
	if code != 200 || body != "pong\n" || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("GET /ping = %d %q %q", code, body, h.Get("Content-Type"))
	}
	if db.calls.Load() != 1 {
		t.Errorf("database pinged %d times, want 1", db.calls.Load())
	}

	db.setErr(errors.New("connection refused"))
	expect(t, "GET", ts.URL+"/ping", 503, "database unreachable: connection refused\n")

	db.setErr(nil)
	db.hold = make(chan struct{}) // never released: the ping times out
	expect(t, "GET", ts.URL+"/ping", 503, "database unreachable: no answer within 50ms\n")
}

func TestPingFaults(t *testing.T) {
	db := &fakeDB{}
	_, ts := newTestServer(t, Config{DB: db, Faults: Faults{ErrorRate: 1}})
	for range 3 {
		expect(t, "GET", ts.URL+"/ping", 500, "injected fault\n")
	}
	if db.calls.Load() != 0 {
		t.Errorf("injected faults still pinged the database")
	}
	// Health checks stay green: an error-rate fault is for canary analysis.
	expect(t, "GET", ts.URL+"/healthz", 200, "ok\n")

	rolls := []float64{0.1, 0.9, 0.49, 0.5}
	var i int
	_, ts = newTestServer(t, Config{DB: db, Faults: Faults{ErrorRate: 0.5},
		Rand: func() float64 { i++; return rolls[i-1] }})
	for _, want := range []int{500, 200, 500, 200} {
		if code, _, _ := do(t, "GET", ts.URL+"/ping"); code != want {
			t.Errorf("roll %v: code %d, want %d", rolls[i-1], code, want)
		}
	}

	_, ts = newTestServer(t, Config{DB: db, Faults: Faults{Latency: 40 * time.Millisecond}})
	start := time.Now()
	expect(t, "GET", ts.URL+"/ping", 200, "pong\n")
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("FAULT_LATENCY 40ms: /ping took only %s", d)
	}
	start = time.Now()
	expect(t, "GET", ts.URL+"/healthz", 200, "ok\n")
	if d := time.Since(start); d >= 40*time.Millisecond {
		t.Errorf("latency applied to /healthz (%s)", d)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	db := &fakeDB{}
	s, ts := newTestServer(t, Config{DB: db})
	expect(t, "GET", ts.URL+"/healthz", 200, "ok\n")
	expect(t, "GET", ts.URL+"/readyz", 200, "ok\n")

	db.setErr(errors.New("closed pool"))
	expect(t, "GET", ts.URL+"/readyz", 503, "database unreachable: closed pool\n")
	expect(t, "GET", ts.URL+"/healthz", 200, "ok\n") // liveness must not depend on the database

	db.setErr(nil)
	s.BeginShutdown()
	expect(t, "GET", ts.URL+"/readyz", 503, "shutting down\n")
	expect(t, "GET", ts.URL+"/healthz", 200, "ok\n")
	expect(t, "GET", ts.URL+"/ping", 200, "pong\n")

	_, ts = newTestServer(t, Config{DB: db, Faults: Faults{FailHealth: true}})
	expect(t, "GET", ts.URL+"/healthz", 503, "injected fault\n")
	expect(t, "GET", ts.URL+"/readyz", 503, "injected fault\n")
	expect(t, "GET", ts.URL+"/ping", 200, "pong\n")
}

func TestRoutingAndMethods(t *testing.T) {
	_, ts := newTestServer(t, Config{DB: &fakeDB{}})
	for _, p := range []string{"/ping", "/healthz", "/readyz", "/metrics"} {
		code, _, h := do(t, "POST", ts.URL+p)
		if code != 405 || h.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s = %d, Allow %q; want 405, GET, HEAD", p, code, h.Get("Allow"))
		}
	}
	expect(t, "HEAD", ts.URL+"/ping", 200, "")
	for _, p := range []string{"/", "/nope", "/ping/", "/pingx", "/metrics/x"} {
		if code, _, _ := do(t, "GET", ts.URL+p); code != 404 {
			t.Errorf("GET %s = %d, want 404", p, code)
		}
	}
	// Unknown paths are 404 whatever the method, not 405.
	if code, _, _ := do(t, "DELETE", ts.URL+"/nope"); code != 404 {
		t.Errorf("DELETE /nope = %d, want 404", code)
	}
}

func TestMetrics(t *testing.T) {
	db := &fakeDB{}
	_, ts := newTestServer(t, Config{DB: db})
	do(t, "GET", ts.URL+"/ping")
	do(t, "GET", ts.URL+"/ping")
	db.setErr(errors.New("down"))
	do(t, "GET", ts.URL+"/ping")
	do(t, "POST", ts.URL+"/ping")
	do(t, "GET", ts.URL+"/healthz")
	for i := range 5 {
		do(t, "GET", ts.URL+"/random/"+strings.Repeat("x", i))
	}

	code, body, h := do(t, "GET", ts.URL+"/metrics")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics = %d %q", code, h.Get("Content-Type"))
	}
	for _, want := range []string{
		`pingapp_http_requests_total{code="200",route="/ping"} 2`,
		`pingapp_http_requests_total{code="503",route="/ping"} 1`,
		`pingapp_http_requests_total{code="405",route="/ping"} 1`,
		`pingapp_http_requests_total{code="200",route="/healthz"} 1`,
		`pingapp_http_requests_total{code="404",route="other"} 5`,
		`pingapp_http_request_duration_seconds_count{route="/ping"} 4`,
		`pingapp_http_request_duration_seconds_bucket{route="/ping",le="+Inf"} 4`,
		`pingapp_build_info{commit="unknown",version="dev"} 1`,
	} {
		if !strings.Contains(body, "\n"+want+"\n") {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, want := range []string{"go_goroutines ", "process_start_time_seconds "} {
		if !strings.Contains(body, "\n"+want) {
			t.Errorf("metrics lack the %q collector", want)
		}
	}
	if strings.Contains(body, "/random") {
		t.Error("unmatched path leaked into a label")
	}
}

// TestServeDrain checks the graceful shutdown sequence on a real listener:
// not ready at once, still serving during the drain (including a request
// already in flight), then stopped.
func TestServeDrain(t *testing.T) {
	db := &fakeDB{}
	const drain = 300 * time.Millisecond
	s, err := New(Config{DB: db, Drain: drain, ShutdownTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, ln) }()

	expect(t, "GET", url+"/readyz", 200, "ok\n")

	// A request in flight when shutdown begins must complete.
	release := make(chan struct{})
	db.mu.Lock()
	db.hold = release
	db.mu.Unlock()
	inflight := make(chan int, 1)
	go func() {
		resp, err := http.Get(url + "/ping")
		if err != nil {
			inflight <- 0
			return
		}
		_ = resp.Body.Close() // the test has what it needs from the response
		inflight <- resp.StatusCode
	}()
	for db.calls.Load() < 2 { // the readyz ping, then the held one
		time.Sleep(time.Millisecond)
	}

	// A client's spare connection that never carries a request must not
	// hold up the exit (http.Server.Shutdown alone would wait 5s for it).
	spare, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer spare.Close()

	start := time.Now()
	cancel()
	deadline := time.Now().Add(time.Second)
	for {
		code, _, _ := do(t, "GET", url+"/readyz")
		if code == 503 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readyz still 200 after shutdown began")
		}
		time.Sleep(5 * time.Millisecond)
	}
	expect(t, "GET", url+"/readyz", 503, "shutting down\n")
	resp, err := http.Get(url + "/ping")
	if err != nil {
		t.Fatalf("during drain: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // the test has what it needs from the response
	if resp.StatusCode != 200 || string(b) != "pong\n" {
		t.Errorf("during drain: /ping = %d %q", resp.StatusCode, b)
	}
	if !resp.Close {
		t.Error("during drain: connection kept alive, want Connection: close")
	}
	close(release)
	if code := <-inflight; code != 200 {
		t.Errorf("in-flight /ping = %d, want 200", code)
	}

	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
		if d := time.Since(start); d < drain {
			t.Errorf("Serve returned after %s, before the %s drain", d, drain)
		}
	case <-time.After(drain + 2*time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	if d := time.Since(start); d > drain+500*time.Millisecond {
		t.Errorf("Serve took %s to stop after a %s drain", d, drain)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("still serving after Serve returned")
	}
}
