package analysis

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return strings.TrimPrefix(s.URL, "http://")
}

func TestSmoke(t *testing.T) {
	pong := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ping" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte("pong\n")) // a fake answering the client under test
	})
	broken := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
	})
	wrongBody := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("pang")) })
	redirect := serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+pong+"/ping", http.StatusFound)
	})
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	slow := serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-stall:
		case <-r.Context().Done():
		}
	})
	// A closed port: the listener is gone by the time Smoke dials.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	_ = l.Close() // closed on purpose: nothing listens there now

	st := &stackfile.SmokeTest{Name: "ping", Path: "/ping", ExpectStatus: 200, ExpectBody: "pong", Timeout: 300 * time.Millisecond}
	addrs := []string{pong, broken, wrongBody, redirect, slow, closed, "no-port"}
	start := time.Now()
	rs := Smoke(context.Background(), nil, st, addrs)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Smoke took %v: requests not concurrent or not bounded by the timeout", d)
	}
	want := []struct {
		ok     bool
		status int
		err    string
	}{
		{true, 200, ""},
		{false, 503, `status 503, want 200; body: "database unreachable"`},
		{false, 200, `body does not contain "pong": "pang"`},
		{false, 302, "status 302, want 200"}, // not followed
		{false, 0, "no complete answer within the timeout (300ms)"},
		{false, 0, "connection refused"},
		{false, 0, "bad instance address"},
	}
	if len(rs) != len(want) {
		t.Fatalf("%d results for %d addresses", len(rs), len(addrs))
	}
	for i, w := range want {
		r := rs[i]
		if r.Addr != addrs[i] || r.Name != "ping" || r.URL != "http://"+addrs[i]+"/ping" {
			t.Errorf("result %d is for %s (%s)", i, r.Addr, r.URL)
		}
		if r.OK != w.ok || r.Status != w.status || !strings.Contains(r.Err, w.err) || (w.err == "") != (r.Err == "") {
			t.Errorf("%s: ok %v status %d err %q; want %v %d %q", addrs[i], r.OK, r.Status, r.Err, w.ok, w.status, w.err)
		}
	}
	if AllPassed(rs) || !AllPassed(rs[:1]) || AllPassed(nil) {
		t.Error("AllPassed is wrong")
	}
}

func TestSmokeDefaultsAndCustomStatus(t *testing.T) {
	created := serve(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusMovedPermanently)
	})
	// A caller's client that would follow redirects still does not.
	rs := Smoke(context.Background(), http.DefaultClient, &stackfile.SmokeTest{Path: "/", ExpectStatus: 301}, []string{created})
	if !rs[0].OK {
		t.Errorf("expect_status 301: %+v", rs[0])
	}
	ok := serve(t, func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("anything")) })
	rs = Smoke(context.Background(), nil, &stackfile.SmokeTest{Path: "/"}, []string{ok}) // status 200, any body
	if !rs[0].OK {
		t.Errorf("defaults: %+v", rs[0])
	}
}

func TestSmokeCancel(t *testing.T) {
	hang := serve(t, func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	rs := Smoke(ctx, nil, &stackfile.SmokeTest{Path: "/", Timeout: time.Minute}, []string{hang})
	if time.Since(start) > 5*time.Second || rs[0].OK || !strings.Contains(rs[0].Err, "canceled") {
		t.Errorf("after cancel: %+v", rs[0])
	}
}
