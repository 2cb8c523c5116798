// Package failover lets one official API client (nomad/api, consul/api,
// vault/api, which each take a single address) use any of a cluster's
// servers: a RoundTripper under the client sends each request to the
// server that last answered and, when that server is gone or has no
// leader, to the next, until one answers or the patience runs out. A
// release watching Nomad then survives the loss of the server it talked
// to, or of the cluster's leader, instead of failing on the first error.
package failover

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// DefaultPatience is how long a request keeps trying servers while none
// answers or none has a leader: longer than an election, shorter than a
// person's patience.
const DefaultPatience = 90 * time.Second

// Transport sends requests to Servers in turn.
type Transport struct {
	Base http.RoundTripper
	// Servers are base URLs (scheme and host) of interchangeable servers;
	// a request's own host is replaced by one of them.
	Servers []*url.URL
	// Patience bounds the retries of one request (DefaultPatience if 0).
	Patience time.Duration
	// WritesIdempotent says a write may be sent again when its fate is
	// unknown (the connection, or the server's forward to its leader, was
	// lost midway). True for Nomad, whose writes set absolute values: a
	// job registered twice with the same spec is one version, a
	// deployment promoted twice is promoted, a count set twice is set.
	WritesIdempotent bool
	// Recovered, when set, is told each time a request succeeded after
	// failures: how long it was blind and which server answered.
	Recovered func(blind time.Duration, server string)

	mu  sync.Mutex
	cur int
}

// Parse reads a comma-separated list of base URLs.
func Parse(list string) ([]*url.URL, error) {
	var out []*url.URL
	for _, s := range strings.Split(list, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, errors.New("server address " + s + ": want scheme://host:port")
		}
		out = append(out, u)
	}
	if len(out) == 0 {
		return nil, errors.New("no server addresses")
	}
	return out, nil
}

// Wrap puts a Transport for servers under hc.
func Wrap(hc *http.Client, servers []*url.URL) *http.Client {
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	hc.Transport = &Transport{Base: base, Servers: servers}
	return hc
}

func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(t.Servers) == 0 {
		return t.Base.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close() // read to the end; ReadAll's error is the one that counts
		if err != nil {
			return nil, err
		}
		body = b
	}
	patience := t.Patience
	if patience == 0 {
		patience = DefaultPatience
	}
	start := time.Now()
	deadline := start.Add(patience)
	failed := 0
	for {
		i := t.current()
		srv := t.Servers[i]
		r := req.Clone(req.Context())
		r.URL.Scheme, r.URL.Host, r.Host = srv.Scheme, srv.Host, ""
		if body != nil {
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		}
		resp, err := t.Base.RoundTrip(r)
		retry := false
		switch {
		case err != nil:
			retry = req.Context().Err() == nil && (t.WritesIdempotent || retryable(req.Method, err))
		case resp.StatusCode >= 500 && t.noLeader(t.method(req), resp):
			retry = true
		}
		if !retry {
			if err == nil && failed > 0 && t.Recovered != nil {
				t.Recovered(time.Since(start), srv.Host)
			}
			return resp, err
		}
		failed++
		t.advance(i)
		if time.Now().After(deadline) {
			if err == nil {
				return resp, nil
			}
			return nil, err
		}
		if resp != nil {
			_ = resp.Body.Close() // a refusal being retried on the next server
		}
		// A short pause once every server has been tried: an election
		// takes a moment.
		if failed%len(t.Servers) == 0 {
			select {
			case <-req.Context().Done():
				return nil, req.Context().Err()
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
}

// method is how a request's retries are judged: a write as a read when
// writes are idempotent.
func (t *Transport) method(req *http.Request) string {
	if t.WritesIdempotent {
		return http.MethodGet
	}
	return req.Method
}

func (t *Transport) current() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

// advance moves past server i unless another request already did.
func (t *Transport) advance(i int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.cur == i {
		t.cur = (i + 1) % len(t.Servers)
	}
}

// retryable: a connection never made (refused, unreachable) is safe to
// retry for any request, as nothing was sent. A connection lost midway
// (the server was killed) is retried for reads only: a write may have been
// applied.
func retryable(method string, err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return method == http.MethodGet || method == http.MethodHead
}

// noLeader reports a server that answers but cannot serve because its
// cluster is electing a leader (Nomad, Consul: "No cluster leader"; a
// follower whose leader just died: "rpc error", retried for reads only;
// Vault: a standby with no active node, or a sealed one). The body is put
// back for the caller.
func (t *Transport) noLeader(method string, resp *http.Response) bool {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close() // replaced by the bytes read, below
	resp.Body = io.NopCloser(bytes.NewReader(b))
	if err != nil {
		return false
	}
	text := b
	// nomad/api asks for gzip itself, so the transport leaves the body
	// compressed; it is read here uncompressed and given back as it came.
	if resp.Header.Get("Content-Encoding") == "gzip" {
		if zr, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			if u, err := io.ReadAll(io.LimitReader(zr, 64<<10)); err == nil {
				text = u
			}
		}
	}
	s := strings.ToLower(string(text))
	markers := []string{"no cluster leader", "local node not active", "vault is sealed", "failed to get conn"}
	if method == http.MethodGet || method == http.MethodHead {
		// Forwarded to a leader that died: a write may have been applied.
		markers = append(markers, "rpc error")
	}
	for _, m := range markers {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}
