package failover

import (
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// deadAddr is an address nothing listens on: connecting is refused.
func deadAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	_ = l.Close() // closed on purpose: nothing listens there now
	return addr
}

func TestRoundTripSkipsDeadAndLeaderlessServers(t *testing.T) {
	var electing atomic.Int32
	electing.Store(2)
	leaderless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if electing.Add(-1) >= 0 {
			http.Error(w, "No cluster leader", http.StatusInternalServerError)
			return
		}
		b, _ := io.ReadAll(r.Body)
		_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)) // a fake answering the client under test
	}))
	defer leaderless.Close()

	var blind time.Duration
	var answered string
	tr := &Transport{Base: http.DefaultTransport, Servers: []*url.URL{mustURL(t, deadAddr(t)), mustURL(t, leaderless.URL)},
		Recovered: func(d time.Duration, srv string) { blind, answered = d, srv }}
	c := &http.Client{Transport: tr}
	resp, err := c.Post("http://ignored.invalid/v1/job/x", "application/json", strings.NewReader(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // the body is read
	if string(b) != `POST /v1/job/x {"a":1}` {
		t.Errorf("answer %q: the body must be replayed to the next server", b)
	}
	if answered != mustURL(t, leaderless.URL).Host || blind <= 0 {
		t.Errorf("recovered on %q after %v", answered, blind)
	}
	// The server that answered stays the current one.
	if tr.current() != 1 {
		t.Errorf("current server %d, want 1", tr.current())
	}
}

func TestRoundTripGivesUpAfterPatience(t *testing.T) {
	tr := &Transport{Base: http.DefaultTransport, Servers: []*url.URL{mustURL(t, deadAddr(t)), mustURL(t, deadAddr(t))}, Patience: 600 * time.Millisecond}
	start := time.Now()
	_, err := (&http.Client{Transport: tr}).Get("http://ignored.invalid/v1/status/leader")
	if err == nil {
		t.Fatal("no error with every server dead")
	}
	if d := time.Since(start); d < 600*time.Millisecond || d > 10*time.Second {
		t.Errorf("gave up after %v, want about the patience", d)
	}
}

func TestRetryable(t *testing.T) {
	dial := &net.OpError{Op: "dial", Err: io.EOF}
	read := &net.OpError{Op: "read", Err: io.EOF}
	for _, c := range []struct {
		method string
		err    error
		want   bool
	}{{"POST", dial, true}, {"POST", read, false}, {"GET", read, true}, {"PUT", io.ErrUnexpectedEOF, false}} {
		if got := retryable(c.method, c.err); got != c.want {
			t.Errorf("retryable(%s, %v) = %v", c.method, c.err, got)
		}
	}
}

func TestNoLeaderRetriesForwardedWritesNot(t *testing.T) {
	mk := func(body string) *http.Response {
		return &http.Response{StatusCode: 500, Body: io.NopCloser(strings.NewReader(body))}
	}
	tr := &Transport{}
	if !tr.noLeader("PUT", mk("No cluster leader")) || tr.noLeader("PUT", mk("rpc error: EOF")) || !tr.noLeader("GET", mk("rpc error: EOF")) {
		t.Error("no-leader classification")
	}
	r := mk("rpc error: EOF")
	tr.noLeader("PUT", r)
	if b, _ := io.ReadAll(r.Body); string(b) != "rpc error: EOF" {
		t.Errorf("body not put back: %q", b)
	}
}

func TestParse(t *testing.T) {
	us, err := Parse("http://127.0.0.11:4646, http://127.0.0.12:4646")
	if err != nil || len(us) != 2 || us[1].Host != "127.0.0.12:4646" {
		t.Errorf("Parse = %v, %v", us, err)
	}
	if _, err := Parse("127.0.0.11"); err == nil {
		t.Error("address without a scheme accepted")
	}
}

func TestIdempotentWritesRetryAForwardLostMidway(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "rpc error: EOF", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "promoted") // a fake answering the client under test
	}))
	defer srv.Close()
	for _, idem := range []bool{false, true} {
		calls.Store(0)
		tr := &Transport{Base: http.DefaultTransport, Servers: []*url.URL{mustURL(t, srv.URL)}, WritesIdempotent: idem}
		req, _ := http.NewRequest(http.MethodPut, "http://x.invalid/v1/deployment/promote/d", strings.NewReader("{}"))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close() // only the status is read
		if want := map[bool]int{false: 500, true: 200}[idem]; resp.StatusCode != want {
			t.Errorf("idempotent=%v: status %d, want %d", idem, resp.StatusCode, want)
		}
	}
}

func TestNoLeaderReadsAGzippedBody(t *testing.T) {
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	if _, err := io.WriteString(zw, "rpc error: EOF"); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	raw := z.Bytes()
	resp := &http.Response{StatusCode: 500, Header: http.Header{"Content-Encoding": {"gzip"}}, Body: io.NopCloser(bytes.NewReader(raw))}
	if !(&Transport{}).noLeader("GET", resp) {
		t.Error("gzipped rpc error not recognised")
	}
	if b, _ := io.ReadAll(resp.Body); !bytes.Equal(b, raw) {
		t.Error("body not given back compressed, as it came")
	}
}
