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
