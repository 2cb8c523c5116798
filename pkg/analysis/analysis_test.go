package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// fakeProm answers Query from a script, one answer per call, repeating the
// last; embedding the interface makes any other method panic.
type fakeProm struct {
	promv1.API
	mu      sync.Mutex
	answers []answer
	queries []string
	times   []time.Time
	block   bool // wait for ctx instead of answering
}

type answer struct {
	v   model.Value
	err error
}

func (f *fakeProm) Query(ctx context.Context, q string, ts time.Time, _ ...promv1.Option) (model.Value, promv1.Warnings, promv1.Infos, error) {
	f.mu.Lock()
	f.queries = append(f.queries, q)
	f.times = append(f.times, ts)
	n := len(f.queries)
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, nil, nil, ctx.Err()
	}
	a := f.answers[min(n, len(f.answers))-1]
	return a.v, nil, nil, a.err
}

func scalar(v float64) answer { return answer{v: &model.Scalar{Value: model.SampleValue(v)}} }

func vector(vs ...float64) answer {
	var out model.Vector
	for i, v := range vs {
		out = append(out, &model.Sample{
			Metric: model.Metric{"instance": model.LabelValue(string(rune('a' + i)))},
			Value:  model.SampleValue(v),
		})
	}
	return answer{v: out}
}

// fakeClock fires every After at once and moves its time forward, so a
// run of minute-long intervals takes no real time; a stuck clock never
// fires, to test cancellation while waiting.
type fakeClock struct {
	mu    sync.Mutex
	now   time.Time
	waits []time.Duration
	stuck bool
}

func newClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.waits = append(c.waits, d)
	if c.stuck {
		return nil
	}
	c.now = c.now.Add(d)
	ch := make(chan time.Time, 1)
	ch <- c.now
	return ch
}

func f(v float64) *float64 { return &v }

func analysisOf(count, failureLimit, inconclusiveLimit int) *stackfile.Analysis {
	return &stackfile.Analysis{
		Name: "errors", Query: `rate(x{version="{{ .Version }}"}[1m])`,
		Interval: time.Minute, Count: count, Min: f(0.99), Max: f(1),
		FailureLimit: failureLimit, InconclusiveLimit: inconclusiveLimit,
	}
}

var target = Target{App: "pingapp", Version: "2", StableVersion: "1", JobID: "pingapp", Namespace: "default",
	AllocIDs: []string{"a1", "b2"}}

func run(t *testing.T, p *fakeProm, a *stackfile.Analysis) (Result, *fakeClock, []Event) {
	t.Helper()
	clock := newClock()
	var events []Event
	r := &Runner{Prom: p, Clock: clock, Log: func(e Event) { events = append(events, e) }}
	res, err := r.Run(context.Background(), a, target)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, clock, events
}

func phases(res Result) string {
	var s []string
	for _, m := range res.Measurements {
		s = append(s, string(m.Phase[0]))
	}
	return strings.Join(s, "")
}

func TestRunVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name       string
		count      int
		fail, inc  int
		answers    []answer
		want       Phase
		wantPhases string // first letters of the measurements' phases
		wantMsg    string
	}{
		{"all good", 3, 0, 0, []answer{scalar(1)}, Successful, "SSS", "3 successful, 0 failed"},
		{"single-sample vector", 2, 0, 0, []answer{vector(0.995)}, Successful, "SS", ""},
		{"min is inclusive", 1, 0, 0, []answer{scalar(0.99)}, Successful, "S", ""},
		{"fails at once without a limit", 5, 0, 0, []answer{scalar(0.5)}, Failed, "F", "0.5 is below min 0.99"},
		{"above max", 1, 0, 0, []answer{scalar(1.5)}, Failed, "F", "1.5 is above max 1"},
		{"failures within limit", 4, 2, 0, []answer{scalar(0.5), scalar(1), scalar(0.5), scalar(1)}, Successful, "FSFS", "2 failed"},
		{"fails as soon as failures exceed the limit", 5, 1, 0, []answer{scalar(0.5), scalar(1), scalar(0.5), scalar(1)}, Failed, "FSF", "2 of 3 measurements failed, more than failure_limit 1"},
		{"NaN is inconclusive", 3, 0, 0, []answer{scalar(math.NaN())}, Inconclusive, "I", "NaN"},
		{"empty vector is inconclusive", 3, 0, 0, []answer{vector()}, Inconclusive, "I", "no samples"},
		{"several series are inconclusive", 3, 0, 0, []answer{vector(1, 1, 1)}, Inconclusive, "I", "3 series, want one"},
		{"a range vector is inconclusive", 1, 0, 0, []answer{{v: model.Matrix{}}}, Inconclusive, "I", "range vector"},
		{"query error is inconclusive", 1, 0, 0, []answer{{err: &promv1.Error{Type: promv1.ErrBadData, Msg: "parse error at char 3"}}}, Inconclusive, "I", "query: bad_data: parse error at char 3"},
		{"inconclusive within limit", 3, 0, 1, []answer{vector(), scalar(1)}, Successful, "ISS", "1 inconclusive"},
		{"inconclusive beyond limit", 4, 0, 1, []answer{vector(), scalar(1), scalar(math.NaN())}, Inconclusive, "ISI", "2 of 3 measurements inconclusive, more than inconclusive_limit 1"},
		{"+Inf breaks max", 1, 0, 0, []answer{scalar(math.Inf(1))}, Failed, "F", "+Inf is above max"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &fakeProm{answers: tc.answers}
			res, clock, events := run(t, p, analysisOf(tc.count, tc.fail, tc.inc))
			if res.Phase != tc.want || phases(res) != tc.wantPhases {
				t.Fatalf("phase %s with measurements %s, want %s with %s; message %q",
					res.Phase, phases(res), tc.want, tc.wantPhases, res.Message)
			}
			if !strings.Contains(res.Message, tc.wantMsg) {
				t.Errorf("message %q lacks %q", res.Message, tc.wantMsg)
			}
			n := len(res.Measurements)
			if len(p.queries) != n || len(events) != n {
				t.Errorf("%d queries and %d events for %d measurements", len(p.queries), len(events), n)
			}
			// The first measurement is immediate, then one interval between each.
			if len(clock.waits) != n-1 {
				t.Errorf("waited %d times for %d measurements", len(clock.waits), n)
			}
			for i, m := range res.Measurements {
				if want := newClock().now.Add(time.Duration(i) * time.Minute); !m.At.Equal(want) || !p.times[i].Equal(want) {
					t.Errorf("measurement %d at %v, queried at %v, want %v", i, m.At, p.times[i], want)
				}
				if m.Query != `rate(x{version="2"}[1m])` {
					t.Errorf("measurement %d query %q", i, m.Query)
				}
				if (m.Phase == Successful) != (m.Err == "") {
					t.Errorf("measurement %d: phase %s with Err %q", i, m.Phase, m.Err)
				}
				if events[i].N != i+1 || events[i].Count != tc.count || events[i].Analysis != "errors" {
					t.Errorf("event %d: %+v", i, events[i])
				}
			}
		})
	}
}

func TestRunDefaults(t *testing.T) {
	a := &stackfile.Analysis{Name: "x", Query: "up", Max: f(1)} // Count and Interval unset
	p := &fakeProm{answers: []answer{scalar(1)}}
	res, clock, _ := run(t, p, a)
	if res.Phase != Successful || len(res.Measurements) != 1 || len(clock.waits) != 0 {
		t.Fatalf("%+v, waits %v", res, clock.waits)
	}
}

func TestRunRenderError(t *testing.T) {
	r := &Runner{Prom: &fakeProm{answers: []answer{scalar(1)}}, Clock: newClock()}
	a := analysisOf(1, 0, 0)
	a.Query = `x{version="{{ .StableVersion }}"}`
	_, err := r.Run(context.Background(), a, Target{App: "a", Version: "2"})
	if err == nil || !strings.Contains(err.Error(), ".StableVersion, empty for this rollout") {
		t.Fatalf("err = %v", err)
	}
	if _, err := (&Runner{}).Run(context.Background(), a, target); err == nil {
		t.Fatal("Run without a Prometheus client succeeded")
	}
}

func TestRunCancelWhileWaiting(t *testing.T) {
	clock := newClock()
	clock.stuck = true
	r := &Runner{Prom: &fakeProm{answers: []answer{scalar(1)}}, Clock: clock}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		res, err = r.Run(ctx, analysisOf(3, 0, 0), target)
		close(done)
	}()
	waitFor(t, func() bool { clock.mu.Lock(); defer clock.mu.Unlock(); return len(clock.waits) == 1 })
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if !errors.Is(err, context.Canceled) || res.Phase != Inconclusive || len(res.Measurements) != 1 {
		t.Fatalf("err %v, result %+v", err, res)
	}
	if !strings.Contains(res.Message, "stopped after 1 of 3 measurements") {
		t.Errorf("message %q", res.Message)
	}
}

func TestRunCancelDuringQuery(t *testing.T) {
	p := &fakeProm{block: true}
	r := &Runner{Prom: p, Clock: newClock()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var res Result
	var err error
	go func() {
		res, err = r.Run(ctx, analysisOf(3, 0, 0), target)
		close(done)
	}()
	waitFor(t, func() bool { p.mu.Lock(); defer p.mu.Unlock(); return len(p.queries) == 1 })
	cancel()
	<-done
	// A query cut short is not an inconclusive measurement of the canary.
	if !errors.Is(err, context.Canceled) || len(res.Measurements) != 0 {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

func TestQueryTimeoutIsInconclusive(t *testing.T) {
	r := &Runner{Prom: &fakeProm{block: true}, Clock: newClock(), QueryTimeout: 10 * time.Millisecond}
	res, err := r.Run(context.Background(), analysisOf(1, 0, 0), target)
	if err != nil || res.Phase != Inconclusive || !strings.Contains(res.Measurements[0].Err, "deadline exceeded") {
		t.Fatalf("err %v, result %+v", err, res)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestMeasurementJSON(t *testing.T) {
	res := Result{Name: "x", Phase: Inconclusive, Measurements: []Measurement{
		{At: time.Unix(0, 0).UTC(), Value: math.NaN(), Phase: Inconclusive, Query: "q", Err: "no samples"},
		{At: time.Unix(60, 0).UTC(), Value: 0.5, Phase: Failed, Query: "q", Err: "low"},
		{At: time.Unix(120, 0).UTC(), Value: 1, Phase: Successful, Query: "q"},
	}}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"x","phase":"Inconclusive","measurements":[` +
		`{"at":"1970-01-01T00:00:00Z","value":null,"phase":"Inconclusive","query":"q","error":"no samples"},` +
		`{"at":"1970-01-01T00:01:00Z","value":0.5,"phase":"Failed","query":"q","error":"low"},` +
		`{"at":"1970-01-01T00:02:00Z","value":1,"phase":"Successful","query":"q"}],"message":""}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestBuiltins(t *testing.T) {
	if got := BuiltinNames(); strings.Join(got, ",") != "latency-p99,success-rate" {
		t.Fatalf("BuiltinNames = %v", got)
	}
	for _, name := range BuiltinNames() {
		a, ok := Builtin(name)
		if !ok || a.Name != name {
			t.Fatalf("Builtin(%q) = %+v, %v", name, a, ok)
		}
		if err := ValidateQuery(a.Query); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		q, err := Render(a.Query, Target{App: "pingapp", Version: "v2"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !strings.Contains(q, `app="pingapp",version="v2"`) || strings.Contains(q, "{{") {
			t.Errorf("%s renders to %s", name, q)
		}
		if a.FailureLimit >= a.Count || (a.Min == nil && a.Max == nil) {
			t.Errorf("%s would not pass the stack file's own validation: %+v", name, a)
		}
	}
	a, _ := Builtin(BuiltinSuccessRate)
	*a.Min = 0
	if b, _ := Builtin(BuiltinSuccessRate); *b.Min != 0.99 {
		t.Error("Builtin shares its bounds between callers")
	}
	if _, ok := Builtin("nope"); ok {
		t.Error("Builtin(nope) found something")
	}

	own := &stackfile.Analysis{Name: BuiltinSuccessRate, Query: "up", Min: f(1)}
	r := &stackfile.Rollout{Analyses: []*stackfile.Analysis{own}}
	if got, _ := Lookup(r, BuiltinSuccessRate); got != own {
		t.Error("a declared analysis does not take precedence over the built-in")
	}
	if got, ok := Lookup(r, BuiltinLatencyP99); !ok || got.Name != BuiltinLatencyP99 {
		t.Error("Lookup does not fall back to the built-ins")
	}
	if _, ok := Lookup(nil, "nope"); ok {
		t.Error("Lookup(nope) found something")
	}
}
