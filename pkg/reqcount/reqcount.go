// Package reqcount counts HTTP requests at the transport, per operation:
// an operation puts a counter in its context, and every request made with
// that context (or one derived from it) through a counting transport adds
// one. A shared client can then serve concurrent operations that each know
// how many requests they made, on every path, without hand-kept tallies.
package reqcount

import (
	"context"
	"net/http"
	"sync/atomic"
)

type key struct{}

// WithCounter returns ctx carrying a fresh counter.
func WithCounter(ctx context.Context) context.Context {
	return context.WithValue(ctx, key{}, new(atomic.Int64))
}

// Count is the number of requests made so far with ctx's counter; 0 without
// one.
func Count(ctx context.Context) int {
	if c, ok := ctx.Value(key{}).(*atomic.Int64); ok {
		return int(c.Load())
	}
	return 0
}

// Transport counts each request against its context's counter, then hands
// it to Base (http.DefaultTransport when nil). A request whose context is
// already done is not counted: no transport sends it (net/http fails it
// at once), so Nomad never sees it.
type Transport struct {
	Base http.RoundTripper
}

func (t Transport) RoundTrip(r *http.Request) (*http.Response, error) {
	if c, ok := r.Context().Value(key{}).(*atomic.Int64); ok && r.Context().Err() == nil {
		c.Add(1)
	}
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return base.RoundTrip(r)
}

// Wrap makes hc count its requests (once, however often it is called).
func Wrap(hc *http.Client) *http.Client {
	if _, ok := hc.Transport.(Transport); !ok {
		hc.Transport = Transport{Base: hc.Transport}
	}
	return hc
}
