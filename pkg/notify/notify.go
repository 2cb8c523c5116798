// Package notify posts rollout events to the stack's notifiers: generic
// JSON webhooks and Slack incoming webhooks.
//
// A notifier's URL is a secret (a Slack webhook URL is a bearer
// credential), so it is resolved from Vault or the environment at send time
// (Resolver), never kept in a log, and scrubbed from every error this
// package returns.
package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// EventType is what happened to a rollout.
type EventType string

// Event types.
const (
	EventStarted    EventType = "started"
	EventStep       EventType = "step"   // a canary step passed
	EventPaused     EventType = "paused" // waiting for a human (manual promotion, inconclusive analysis)
	EventPromoted   EventType = "promoted"
	EventFailed     EventType = "failed"
	EventRolledBack EventType = "rolled-back"
)

// Event is a rollout event. Its JSON form is the generic webhook's body;
// the field names are a contract with receivers and do not change.
type Event struct {
	Type     EventType `json:"type"`
	App      string    `json:"app"`
	Version  string    `json:"version"`
	Strategy string    `json:"strategy"`
	// Step is the 1-based canary step for step and paused events, else 0.
	Step    int       `json:"step"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
	// URL links to the deployment in the Nomad UI.
	URL string `json:"url"`
}

// Defaults for Notifier's tunables.
const (
	DefaultAttempts       = 4
	DefaultAttemptTimeout = 10 * time.Second
)

// Notifier sends events to the notifiers of a stack.
type Notifier struct {
	byName   map[string]*stackfile.Notifier
	resolver Resolver
	hc       *http.Client

	// Attempts bounds the tries per notifier and event.
	Attempts int
	// AttemptTimeout bounds each try, so a receiver that hangs costs a
	// retry rather than the whole rollout's patience.
	AttemptTimeout time.Duration
	// Backoff returns the wait policy between tries; the default is
	// exponential from 500ms. Tests shorten it.
	Backoff func() backoff.BackOff
	// Now stamps events whose At is zero.
	Now func() time.Time
}

// New returns a Notifier for the stack's notifiers. A nil hc means a
// plain http.Client; its Timeout, if any, applies on top of
// AttemptTimeout.
func New(notifiers []*stackfile.Notifier, r Resolver, hc *http.Client) *Notifier {
	if hc == nil {
		hc = &http.Client{}
	}
	n := &Notifier{
		byName:         map[string]*stackfile.Notifier{},
		resolver:       r,
		hc:             hc,
		Attempts:       DefaultAttempts,
		AttemptTimeout: DefaultAttemptTimeout,
		Backoff: func() backoff.BackOff {
			b := backoff.NewExponentialBackOff()
			b.InitialInterval = 500 * time.Millisecond
			b.MaxInterval = 5 * time.Second
			return b
		},
		Now: time.Now,
	}
	for _, cfg := range notifiers {
		n.byName[cfg.Name] = cfg
	}
	return n
}

// Send posts ev to the named notifiers concurrently, so a slow or failing
// one does not delay the others, and returns every failure joined. An
// event that cannot be delivered is an error for the caller to log, not a
// reason to stop a rollout.
func (n *Notifier) Send(ctx context.Context, names []string, ev Event) error {
	if ev.At.IsZero() {
		ev.At = n.Now()
	}
	var uniq []string
	seen := map[string]bool{}
	for _, name := range names {
		if !seen[name] {
			seen[name] = true
			uniq = append(uniq, name)
		}
	}
	errs := make([]error, len(uniq))
	var wg sync.WaitGroup
	for i, name := range uniq {
		cfg := n.byName[name]
		if cfg == nil {
			errs[i] = fmt.Errorf("notifier %q: not declared in the stack", name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := n.send(ctx, cfg, ev); err != nil {
				errs[i] = fmt.Errorf("notifier %q (%s, url from %s): %w", cfg.Name, cfg.Type, cfg.URL, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (n *Notifier) send(ctx context.Context, cfg *stackfile.Notifier, ev Event) error {
	if n.resolver == nil {
		return errors.New("no secret resolver configured")
	}
	raw, err := n.resolver.Resolve(ctx, cfg.URL)
	if err != nil {
		return fmt.Errorf("resolving the URL: %w", err)
	}
	raw = strings.TrimSpace(raw)
	red := newRedactor(raw)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		// Not url.Parse's error: it quotes the URL.
		return errors.New("the resolved URL is not an http(s) URL")
	}
	red.add(u)
	body, err := payload(cfg.Type, ev)
	if err != nil {
		return err
	}

	attempts := max(n.Attempts, 1)
	timeout := n.AttemptTimeout
	if timeout <= 0 {
		timeout = DefaultAttemptTimeout
	}
	try := 0
	op := func() error {
		try++
		err := n.post(ctx, u.String(), body, timeout)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return backoff.Permanent(ctx.Err())
		}
		err = red.wrap(fmt.Sprintf("attempt %d of %d", try, attempts), err)
		var p *permanent
		if errors.As(err, &p) {
			return backoff.Permanent(err)
		}
		return err
	}
	b := backoff.WithContext(backoff.WithMaxRetries(n.Backoff(), uint64(attempts-1)), ctx)
	return backoff.Retry(op, b)
}

// permanent marks a response that retrying cannot fix (a 4xx: bad URL,
// revoked webhook, malformed payload).
type permanent struct{ msg string }

func (p *permanent) Error() string { return p.msg }

func (n *Notifier) post(ctx context.Context, u string, body []byte, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "hstack-notify")
	resp, err := n.hc.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			// url.Error quotes the URL; keep only what went wrong.
			return fmt.Errorf("POST: %w", uerr.Err)
		}
		return err
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	// Drain a little more so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // only so the connection can be reused; the status decides
	if resp.StatusCode/100 == 2 {
		return nil
	}
	msg := fmt.Sprintf("HTTP %s: %q", resp.Status, strings.TrimSpace(string(snippet)))
	switch {
	case resp.StatusCode >= 500,
		// Slack answers 429 when rate limiting and some proxies 408; both
		// mean "later", unlike the other 4xx.
		resp.StatusCode == http.StatusTooManyRequests,
		resp.StatusCode == http.StatusRequestTimeout:
		return errors.New(msg)
	}
	return &permanent{msg}
}

// redactor scrubs a webhook URL and its secret-bearing parts (path, query,
// credentials) from error text. The host stays: it is what one needs to
// debug a refused connection, and for Slack it is public anyway.
type redactor struct{ secrets []string }

const redacted = "[redacted]"

func newRedactor(raw string) *redactor {
	r := &redactor{}
	r.push(raw)
	return r
}

func (r *redactor) push(s string) {
	// Short fragments such as "/" would redact unrelated text.
	if len(s) >= 4 {
		r.secrets = append(r.secrets, s)
	}
}

func (r *redactor) add(u *url.URL) {
	r.push(u.String())
	r.push(u.Redacted())
	r.push(u.EscapedPath())
	r.push(u.Path)
	r.push(u.RawQuery)
	r.push(u.Fragment)
	if u.User != nil {
		r.push(u.User.String())
		if p, ok := u.User.Password(); ok {
			r.push(p)
		}
	}
	r.push(strings.TrimPrefix(u.EscapedPath(), "/"))
}

func (r *redactor) scrub(s string) string {
	// Longest first, so a URL is replaced whole rather than leaving its
	// host around a redacted path.
	secrets := append([]string(nil), r.secrets...)
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	for _, sec := range secrets {
		s = strings.ReplaceAll(s, sec, redacted)
	}
	return s
}

// wrap returns err's text, scrubbed, as a new error: wrapping err itself
// would let errors.Unwrap reach the original text.
func (r *redactor) wrap(prefix string, err error) error {
	msg := prefix + ": " + r.scrub(err.Error())
	var p *permanent
	if errors.As(err, &p) {
		return &permanent{msg}
	}
	return errors.New(msg)
}
