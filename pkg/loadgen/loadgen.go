// Package loadgen sends HTTP GET requests at a constant rate, the way a
// canary analysis needs them: a metric-gated release can only judge a
// canary that receives traffic (Flagger ships a load tester for the same
// reason). The pacing and HTTP work is vegeta's; this package adds what a
// rollout wants to know: how many requests succeeded, which failed and why.
package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Config says what to request and how often.
type Config struct {
	// Targets are full URLs, requested in turn.
	Targets []string
	// Rate is requests per second across all targets.
	Rate int
	// Timeout bounds one request; default 5s.
	Timeout time.Duration
	// ExpectStatus is the status a request must get; 0 means any 2xx.
	ExpectStatus int
	// ExpectBody, when set, must be contained in the response body.
	ExpectBody string
}

// Result sums up a run.
type Result struct {
	OK, Failed int64
	// Errors holds the first few distinct failure reasons with counts.
	Errors     map[string]int64
	P50, P99   time.Duration
	Throughput float64 // successful requests per second
}

// String is one line for a human.
func (r Result) String() string {
	s := fmt.Sprintf("%d requests, %d failed, p50 %v, p99 %v", r.OK+r.Failed, r.Failed,
		r.P50.Round(100*time.Microsecond), r.P99.Round(100*time.Microsecond))
	if len(r.Errors) > 0 {
		var parts []string
		for e, n := range r.Errors {
			parts = append(parts, fmt.Sprintf("%dx %s", n, e))
		}
		s += " (" + strings.Join(parts, "; ") + ")"
	}
	return s
}

// Run is a load in progress.
type Run struct {
	attacker *vegeta.Attacker
	done     chan struct{}
	cancel   context.CancelFunc

	mu      sync.Mutex
	metrics vegeta.Metrics
	res     Result
}

// maxDistinctErrors keeps a broken target from filling memory with
// messages.
const maxDistinctErrors = 5

// Start begins sending requests until ctx ends or Stop is called.
func Start(ctx context.Context, cfg Config) (*Run, error) {
	if len(cfg.Targets) == 0 {
		return nil, fmt.Errorf("loadgen: no targets")
	}
	if cfg.Rate <= 0 {
		return nil, fmt.Errorf("loadgen: rate must be positive, got %d", cfg.Rate)
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	targets := make([]vegeta.Target, len(cfg.Targets))
	for i, u := range cfg.Targets {
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: u}
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Run{
		attacker: vegeta.NewAttacker(vegeta.Timeout(timeout), vegeta.KeepAlive(true), vegeta.MaxBody(64<<10)),
		done:     make(chan struct{}),
		cancel:   cancel,
		res:      Result{Errors: map[string]int64{}},
	}
	results := r.attacker.Attack(vegeta.NewStaticTargeter(targets...), vegeta.ConstantPacer{Freq: cfg.Rate, Per: time.Second}, 0, "hstack")
	go func() {
		<-ctx.Done()
		r.attacker.Stop()
	}()
	go func() {
		defer close(r.done)
		for res := range results {
			r.record(cfg, res)
		}
	}()
	return r, nil
}

func (r *Run) record(cfg Config, res *vegeta.Result) {
	// vegeta reports a non-2xx status as an error too; a response, if any,
	// says more than its error text.
	var reason string
	switch {
	case res.Code == 0:
		reason = res.Error
	case cfg.ExpectStatus != 0 && int(res.Code) != cfg.ExpectStatus,
		cfg.ExpectStatus == 0 && (res.Code < 200 || res.Code > 299):
		reason = fmt.Sprintf("status %d", res.Code)
	case cfg.ExpectBody != "" && !strings.Contains(string(res.Body), cfg.ExpectBody):
		reason = fmt.Sprintf("body without %q", cfg.ExpectBody)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics.Add(res)
	if reason == "" {
		r.res.OK++
		return
	}
	r.res.Failed++
	if _, seen := r.res.Errors[reason]; seen || len(r.res.Errors) < maxDistinctErrors {
		r.res.Errors[reason]++
	}
}

// Snapshot returns the counts so far without stopping.
func (r *Run) Snapshot() Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.copyResult()
}

func (r *Run) copyResult() Result {
	out := r.res
	out.Errors = make(map[string]int64, len(r.res.Errors))
	for k, v := range r.res.Errors {
		out.Errors[k] = v
	}
	return out
}

// Stop ends the load, waits for requests in flight and returns the result.
func (r *Run) Stop() Result {
	r.cancel()
	<-r.done
	r.mu.Lock()
	defer r.mu.Unlock()
	r.metrics.Close()
	out := r.copyResult()
	out.P50 = r.metrics.Latencies.P50
	out.P99 = r.metrics.Latencies.P99
	if d := r.metrics.Duration + r.metrics.Wait; d > 0 {
		out.Throughput = float64(out.OK) / d.Seconds()
	}
	return out
}
