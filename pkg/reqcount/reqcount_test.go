package reqcount

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCountsPerContext(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	hc := Wrap(Wrap(srv.Client()))
	a, b := WithCounter(context.Background()), WithCounter(context.Background())
	get := func(ctx context.Context) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close() // the test has what it needs from the response
	}
	get(a)
	get(a)
	get(b)
	get(context.Background())
	if Count(a) != 2 || Count(b) != 1 || Count(context.Background()) != 0 {
		t.Fatalf("counts a=%d b=%d", Count(a), Count(b))
	}
}

// A request made with a context already cancelled never reaches the
// server, and is not counted as one Nomad saw.
func TestCancelledRequestIsNotCounted(t *testing.T) {
	var served int
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	defer srv.Close()
	hc := Wrap(srv.Client())
	ctx, cancel := context.WithCancel(WithCounter(context.Background()))
	cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	if resp, err := hc.Do(req); err == nil {
		_ = resp.Body.Close() // only the error was wanted
		t.Fatal("a cancelled request succeeded")
	}
	if Count(ctx) != 0 || served != 0 {
		t.Errorf("counted %d, served %d; want 0 and 0", Count(ctx), served)
	}
}
