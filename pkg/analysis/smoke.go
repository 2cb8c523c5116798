package analysis

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// maxSmokeBody bounds how much of a response is searched for ExpectBody:
// a smoke endpoint answers briefly, and a misbehaving instance must not
// make hstack read without end.
const maxSmokeBody = 1 << 20

// SmokeResult is the outcome of one smoke test against one instance.
type SmokeResult struct {
	Name   string `json:"name"`
	Addr   string `json:"addr"`
	URL    string `json:"url"`
	OK     bool   `json:"ok"`
	Status int    `json:"status,omitempty"` // 0 when no response came
	// Err says why the test did not pass.
	Err      string        `json:"error,omitempty"`
	Duration time.Duration `json:"duration"`
}

// Smoke makes st's request to each address (host:port of one new instance,
// from the service catalog) concurrently and returns the results in the
// order of addrs. Each request, body included, is bounded by st.Timeout.
//
// Redirects are not followed, whatever client's policy: the point is the
// instance's own answer, and a redirect would test some other server. A
// nil client means http.DefaultTransport.
func Smoke(ctx context.Context, client *http.Client, st *stackfile.SmokeTest, addrs []string) []SmokeResult {
	c := http.Client{}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

	out := make([]SmokeResult, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = smokeOne(ctx, &c, st, addr)
		}()
	}
	wg.Wait()
	return out
}

// AllPassed reports whether every result passed. No results is not a
// pass: a smoke test that reached no instance proves nothing.
func AllPassed(rs []SmokeResult) bool {
	for _, r := range rs {
		if !r.OK {
			return false
		}
	}
	return len(rs) > 0
}

func smokeOne(ctx context.Context, c *http.Client, st *stackfile.SmokeTest, addr string) SmokeResult {
	res := SmokeResult{Name: st.Name, Addr: addr, URL: "http://" + addr + st.Path}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		res.Err = fmt.Sprintf("bad instance address: %v", err)
		return res
	}
	timeout := st.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	want := st.ExpectStatus
	if want == 0 {
		want = http.StatusOK
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	defer func() { res.Duration = time.Since(start) }()

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, res.URL, nil)
	if err != nil {
		res.Err = err.Error()
		return res
	}
	req.Header.Set("User-Agent", "hstack-smoke-test")
	resp, err := c.Do(req)
	if err != nil {
		res.Err = timeoutMessage(err, timeout)
		return res
	}
	defer resp.Body.Close()
	res.Status = resp.StatusCode
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSmokeBody))
	switch {
	case resp.StatusCode != want:
		res.Err = fmt.Sprintf("status %d, want %d; body: %s", resp.StatusCode, want, snippet(body))
	case err != nil:
		res.Err = "reading body: " + timeoutMessage(err, timeout)
	case !strings.Contains(string(body), st.ExpectBody):
		res.Err = fmt.Sprintf("body does not contain %q: %s", st.ExpectBody, snippet(body))
	default:
		res.OK = true
	}
	return res
}

func timeoutMessage(err error, timeout time.Duration) string {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Sprintf("no complete answer within the timeout (%s): %v", timeout, err)
	}
	return err.Error()
}

func snippet(b []byte) string {
	const n = 200
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = s[:n] + "…"
	}
	return fmt.Sprintf("%q", s)
}
