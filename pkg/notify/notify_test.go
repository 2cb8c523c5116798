package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// The path is what makes a webhook URL a credential; tests check that it
// never shows up in an error.
const secretPath = "/services/T000/B000/s3cr3tT0k3n"

type receiver struct {
	mu       sync.Mutex
	bodies   [][]byte
	headers  []http.Header
	statuses []int // one per request, the last repeated
	*httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.headers = append(r.headers, req.Header.Clone())
		n := len(r.bodies)
		r.mu.Unlock()
		if req.Method != http.MethodPost || req.URL.Path != secretPath {
			http.Error(w, "wrong request "+req.Method+" "+req.URL.Path, http.StatusNotFound)
			return
		}
		status := http.StatusOK
		if len(r.statuses) > 0 {
			status = r.statuses[min(n, len(r.statuses))-1]
		}
		// Some receivers echo the request in errors; the echo must not
		// leak either.
		w.WriteHeader(status)
		_, _ = w.Write([]byte("ok " + req.URL.String())) // a fake answering the client under test
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *receiver) url() string { return r.URL + secretPath }

func env(vars map[string]string) Resolver {
	return EnvResolver{Getenv: func(k string) string { return vars[k] }}
}

func fast(n *Notifier) *Notifier {
	n.Backoff = func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }
	return n
}

var ev = Event{
	Type: EventPromoted, App: "pingapp", Version: "v2", Strategy: "canary", Step: 2,
	Message: "all analyses passed", At: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
	URL: "http://nomad:4646/ui/jobs/pingapp/deployments",
}

func notifiers(types ...stackfile.NotifierType) []*stackfile.Notifier {
	var out []*stackfile.Notifier
	for i, typ := range types {
		out = append(out, &stackfile.Notifier{
			Name: []string{"a", "b", "c"}[i], Type: typ,
			URL: stackfile.SecretRef{Env: "HOOK_" + []string{"A", "B", "C"}[i]},
		})
	}
	return out
}

func TestWebhookPayload(t *testing.T) {
	r := newReceiver(t)
	n := New(notifiers(stackfile.NotifierWebhook), env(map[string]string{"HOOK_A": r.url()}), nil)
	if err := n.Send(context.Background(), []string{"a"}, ev); err != nil {
		t.Fatal(err)
	}
	if r.requests() != 1 {
		t.Fatalf("%d requests", r.requests())
	}
	want := `{"type":"promoted","app":"pingapp","version":"v2","strategy":"canary","step":2,` +
		`"message":"all analyses passed","at":"2025-01-02T03:04:05Z","url":"http://nomad:4646/ui/jobs/pingapp/deployments"}`
	if got := string(r.bodies[0]); got != want {
		t.Errorf("body\n got %s\nwant %s", got, want)
	}
	if ct := r.headers[0].Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
}

func TestSlackPayload(t *testing.T) {
	r := newReceiver(t)
	n := New(notifiers(stackfile.NotifierSlack), env(map[string]string{"HOOK_A": r.url()}), nil)
	e := ev
	e.Type, e.Message = EventFailed, "success-rate 0.8 < 0.99 <!channel> & more"
	if err := n.Send(context.Background(), []string{"a"}, e); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Text   string `json:"text"`
		Blocks []struct {
			Type string `json:"type"`
			Text *struct {
				Type, Text string
			} `json:"text"`
			Elements []struct{ Type, Text string } `json:"elements"`
		} `json:"blocks"`
	}
	if err := json.Unmarshal(r.bodies[0], &got); err != nil {
		t.Fatalf("%v: %s", err, r.bodies[0])
	}
	if !strings.Contains(got.Text, "pingapp version v2: canary rollout failed (step 2)") {
		t.Errorf("text %q", got.Text)
	}
	if len(got.Blocks) != 2 || got.Blocks[0].Type != "section" || got.Blocks[0].Text.Type != "mrkdwn" ||
		got.Blocks[1].Type != "context" || len(got.Blocks[1].Elements) != 1 {
		t.Fatalf("blocks %s", r.bodies[0])
	}
	sec := got.Blocks[0].Text.Text
	if !strings.HasPrefix(sec, ":x: *pingapp* version `v2`") ||
		!strings.Contains(sec, "0.8 &lt; 0.99 &lt;!channel&gt; &amp; more") {
		t.Errorf("section %q", sec)
	}
	if c := got.Blocks[1].Elements[0].Text; c != "<http://nomad:4646/ui/jobs/pingapp/deployments|Nomad deployment> · 2025-01-02T03:04:05Z" {
		t.Errorf("context %q", c)
	}
}

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		wantReqs int
		wantErr  string
	}{
		{"5xx then success", []int{503, 502, 200}, 3, ""},
		{"429 is retried", []int{429, 200}, 2, ""},
		{"5xx until out of attempts", []int{500}, 4, "attempt 4 of 4: HTTP 500 Internal Server Error"},
		{"4xx is not retried", []int{403}, 1, "attempt 1 of 4: HTTP 403 Forbidden"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReceiver(t, tc.statuses...)
			n := fast(New(notifiers(stackfile.NotifierWebhook), env(map[string]string{"HOOK_A": r.url()}), nil))
			err := n.Send(context.Background(), []string{"a"}, ev)
			if r.requests() != tc.wantReqs {
				t.Errorf("%d requests, want %d", r.requests(), tc.wantReqs)
			}
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
			checkRedacted(t, err, r.url())
			// The receiver echoes the request path in its body.
			if !strings.Contains(err.Error(), `"ok [redacted]"`) {
				t.Errorf("the echoed path is not redacted: %v", err)
			}
			if !strings.Contains(err.Error(), `notifier "a" (webhook, url from env:HOOK_A)`) {
				t.Errorf("error does not say which notifier: %v", err)
			}
		})
	}
}

func checkRedacted(t *testing.T, err error, url string) {
	t.Helper()
	for e := err; e != nil; e = errors.Unwrap(e) {
		for _, leak := range []string{url, secretPath, "s3cr3tT0k3n"} {
			if strings.Contains(e.Error(), leak) {
				t.Errorf("error leaks the webhook URL (%q): %v", leak, e)
			}
		}
	}
}

func TestRedactor(t *testing.T) {
	raw := "https://u:pw123456@hooks.example.com/T0/B0/a%2Fsecret?sig=abcdef#frag1234"
	r := newRedactor(raw)
	u, _ := url.Parse(raw)
	r.add(u)
	for in, want := range map[string]string{
		`Post "` + raw + `": EOF`:                    `Post "[redacted]": EOF`,
		"echo /T0/B0/a%2Fsecret?sig=abcdef":          "echo [redacted]?[redacted]",
		"decoded /T0/B0/a/secret and u:pw123456 too": "decoded [redacted] and [redacted] too",
		"dial tcp hooks.example.com:443: refused":    "dial tcp hooks.example.com:443: refused",
	} {
		if got := r.scrub(in); got != want {
			t.Errorf("scrub(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestNetworkErrorsAreRetriedAndRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // it only picked a free port
	u := "http://user:hunter22@" + addr + secretPath + "?token=s3cr3tT0k3n"
	n := fast(New(notifiers(stackfile.NotifierSlack), env(map[string]string{"HOOK_A": u}), nil))
	n.Attempts = 2
	err = n.Send(context.Background(), []string{"a"}, ev)
	if err == nil || !strings.Contains(err.Error(), "attempt 2 of 2: POST: dial tcp "+addr) {
		t.Fatalf("err = %v", err)
	}
	checkRedacted(t, err, u)
	if strings.Contains(err.Error(), "hunter22") {
		t.Errorf("error leaks the URL's password: %v", err)
	}
}

func TestAttemptTimeout(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	release := make(chan struct{})
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // a fake: what it was sent does not matter
		mu.Lock()
		calls++
		first := calls == 1
		mu.Unlock()
		if first {
			select { // hang until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
		}
	}))
	t.Cleanup(s.Close)
	t.Cleanup(func() { close(release) }) // runs before s.Close
	u := s.URL + secretPath
	n := fast(New(notifiers(stackfile.NotifierWebhook), env(map[string]string{"HOOK_A": u}), nil))
	n.AttemptTimeout = 50 * time.Millisecond
	if err := n.Send(context.Background(), []string{"a"}, ev); err != nil {
		t.Fatalf("a hung first attempt was not retried: %v", err)
	}
}

func TestSendCancel(t *testing.T) {
	r := newReceiver(t, 500)
	n := New(notifiers(stackfile.NotifierWebhook), env(map[string]string{"HOOK_A": r.url()}), nil)
	n.Backoff = func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := n.Send(ctx, []string{"a"}, ev)
	if !errors.Is(err, context.Canceled) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
}

func TestSendSeveral(t *testing.T) {
	good, bad := newReceiver(t), newReceiver(t, 404)
	vars := map[string]string{"HOOK_A": good.url(), "HOOK_B": bad.url(), "HOOK_C": "not a url " + secretPath}
	n := fast(New(notifiers(stackfile.NotifierWebhook, stackfile.NotifierSlack, stackfile.NotifierWebhook), env(vars), nil))
	n.Now = func() time.Time { return time.Unix(42, 0) }
	e := ev
	e.At = time.Time{}
	err := n.Send(context.Background(), []string{"a", "b", "a", "c", "nope"}, e)
	if good.requests() != 1 || bad.requests() != 1 {
		t.Errorf("requests: good %d, bad %d (duplicates must be sent once)", good.requests(), bad.requests())
	}
	if !strings.Contains(string(good.bodies[0]), `"at":"1970-01-01T00:00:42Z"`) {
		t.Errorf("zero At not stamped: %s", good.bodies[0])
	}
	for _, want := range []string{
		`notifier "b" (slack, url from env:HOOK_B): attempt 1 of 4: HTTP 404 Not Found`,
		`notifier "c" (webhook, url from env:HOOK_C): the resolved URL is not an http(s) URL`,
		`notifier "nope": not declared in the stack`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to contain %q", err, want)
		}
	}
	if strings.Contains(err.Error(), `notifier "a"`) {
		t.Errorf("the good notifier reported an error: %v", err)
	}
	checkRedacted(t, err, bad.url())
	checkRedacted(t, err, vars["HOOK_C"])

	// A missing variable names the variable, not a value.
	err = New(notifiers(stackfile.NotifierWebhook), env(nil), nil).Send(context.Background(), []string{"a"}, ev)
	if err == nil || !strings.Contains(err.Error(), "environment variable HOOK_A is not set or empty") {
		t.Errorf("unset variable: %v", err)
	}
}
