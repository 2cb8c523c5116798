package analysis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Phase is the verdict of a measurement or of a whole analysis.
type Phase string

// Phases. Inconclusive means the data could not decide (no traffic, NaN, a
// query error): the engine pauses the rollout for a human rather than
// promoting or rolling back on no evidence.
const (
	Successful   Phase = "Successful"
	Failed       Phase = "Failed"
	Inconclusive Phase = "Inconclusive"
)

// Result is the outcome of one analysis run.
type Result struct {
	Name         string        `json:"name"`
	Phase        Phase         `json:"phase"`
	Measurements []Measurement `json:"measurements"`
	// Message says why, in one line fit for a notification.
	Message string `json:"message"`
}

// Measurement is one evaluation of the query.
type Measurement struct {
	At    time.Time
	Value float64 // NaN when the query returned no usable number
	Phase Phase
	Query string // as rendered and sent to Prometheus
	// Err says why the measurement is not Successful: the query error,
	// why the result is unusable, or which bound the value broke.
	Err string
}

// MarshalJSON writes a missing or non-finite value as null, because
// encoding/json rejects NaN and the Inf values and a Result is meant to be
// printed by `hstack deploy --json`.
func (m Measurement) MarshalJSON() ([]byte, error) {
	var v *float64
	if !math.IsNaN(m.Value) && !math.IsInf(m.Value, 0) {
		v = &m.Value
	}
	return json.Marshal(struct {
		At    time.Time `json:"at"`
		Value *float64  `json:"value"`
		Phase Phase     `json:"phase"`
		Query string    `json:"query"`
		Err   string    `json:"error,omitempty"`
	}{m.At, v, m.Phase, m.Query, m.Err})
}

// Event is reported to Runner.Log after each measurement.
type Event struct {
	Analysis string
	// N counts measurements from 1 to Count.
	N, Count    int
	Measurement Measurement
}

// Clock is the time source of a Runner, injectable so that tests of
// minute-long analyses run instantly.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// DefaultQueryTimeout bounds one Prometheus query when Runner.QueryTimeout
// is zero.
const DefaultQueryTimeout = 30 * time.Second

// Runner runs analyses against one Prometheus.
type Runner struct {
	Prom promv1.API
	// Clock defaults to the real time.
	Clock Clock
	// Log, when set, sees every measurement as it is taken.
	Log func(Event)
	// QueryTimeout bounds each query; a query that times out is an
	// inconclusive measurement.
	QueryTimeout time.Duration
}

// NewRunner returns a Runner for the Prometheus at address (e.g.
// "http://127.0.0.1:9090").
func NewRunner(address string) (*Runner, error) {
	c, err := api.NewClient(api.Config{Address: address})
	if err != nil {
		return nil, fmt.Errorf("prometheus client for %s: %w", address, err)
	}
	return &Runner{Prom: promv1.NewAPI(c)}, nil
}

// Run measures a.Query for t a.Count times, a.Interval apart, the first
// time at once, and decides as the stack file reference says: Failed as
// soon as failures exceed a.FailureLimit, Inconclusive as soon as
// inconclusive measurements exceed a.InconclusiveLimit, Successful after
// Count measurements otherwise.
//
// The error is non-nil only when the analysis could not run to a verdict:
// a template that does not render for t, or ctx ending (the Result then
// holds the measurements taken so far and is Inconclusive).
func (r *Runner) Run(ctx context.Context, a *stackfile.Analysis, t Target) (Result, error) {
	res := Result{Name: a.Name}
	if r.Prom == nil {
		return res, fmt.Errorf("analysis %q: no Prometheus client", a.Name)
	}
	q, err := Render(a.Query, t)
	if err != nil {
		return res, fmt.Errorf("analysis %q: %w", a.Name, err)
	}
	clock := r.Clock
	if clock == nil {
		clock = realClock{}
	}
	count := max(a.Count, 1)
	interval := a.Interval
	if interval <= 0 {
		interval = time.Minute
	}

	stop := func() (Result, error) {
		res.Phase = Inconclusive
		res.Message = fmt.Sprintf("stopped after %d of %d measurements: %v", len(res.Measurements), count, context.Cause(ctx))
		return res, fmt.Errorf("analysis %q: %w", a.Name, context.Cause(ctx))
	}
	var failed, inconclusive int
	for i := range count {
		if i > 0 {
			select {
			case <-ctx.Done():
				return stop()
			case <-clock.After(interval):
			}
		}
		m := r.measure(ctx, clock.Now(), q, a)
		if ctx.Err() != nil {
			// The query was cut short by the caller, which says nothing
			// about the canary.
			return stop()
		}
		res.Measurements = append(res.Measurements, m)
		if r.Log != nil {
			r.Log(Event{Analysis: a.Name, N: i + 1, Count: count, Measurement: m})
		}
		switch m.Phase {
		case Failed:
			failed++
		case Inconclusive:
			inconclusive++
		}
		if failed > a.FailureLimit {
			res.Phase = Failed
			res.Message = fmt.Sprintf("%d of %d measurements failed, more than failure_limit %d; last: %s",
				failed, len(res.Measurements), a.FailureLimit, m.Err)
			return res, nil
		}
		if inconclusive > a.InconclusiveLimit {
			res.Phase = Inconclusive
			res.Message = fmt.Sprintf("%d of %d measurements inconclusive, more than inconclusive_limit %d; last: %s",
				inconclusive, len(res.Measurements), a.InconclusiveLimit, m.Err)
			return res, nil
		}
	}
	res.Phase = Successful
	res.Message = fmt.Sprintf("%d measurements: %d successful, %d failed, %d inconclusive",
		count, count-failed-inconclusive, failed, inconclusive)
	return res, nil
}

func (r *Runner) measure(ctx context.Context, at time.Time, q string, a *stackfile.Analysis) Measurement {
	m := Measurement{At: at, Query: q, Value: math.NaN(), Phase: Inconclusive}
	timeout := r.QueryTimeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	val, _, _, err := r.Prom.Query(qctx, q, at, promv1.WithTimeout(timeout))
	if err != nil {
		m.Err = "query: " + queryError(err)
		return m
	}
	v, why := single(val)
	if why != "" {
		m.Err = why
		return m
	}
	m.Value = v
	if math.IsNaN(v) {
		m.Err = "query returned NaN (for a ratio: no traffic)"
		return m
	}
	m.Phase = Successful
	switch {
	case a.Min != nil && v < *a.Min:
		m.Phase, m.Err = Failed, fmt.Sprintf("%s is below min %s", num(v), num(*a.Min))
	case a.Max != nil && v > *a.Max:
		m.Phase, m.Err = Failed, fmt.Sprintf("%s is above max %s", num(v), num(*a.Max))
	}
	return m
}

func queryError(err error) string {
	var perr *promv1.Error
	if errors.As(err, &perr) {
		// The detail is what Prometheus said (e.g. the parse error with a
		// position); the wrapping adds nothing.
		return fmt.Sprintf("%s: %s", perr.Type, perr.Msg)
	}
	return err.Error()
}

// single extracts the one number a query must return, or says why there
// is none.
func single(v model.Value) (float64, string) {
	switch v := v.(type) {
	case *model.Scalar:
		return float64(v.Value), ""
	case model.Vector:
		switch len(v) {
		case 0:
			return 0, "query returned no samples (no matching series: wrong labels, or no data yet)"
		case 1:
			return float64(v[0].Value), ""
		}
		return 0, fmt.Sprintf("query returned %d series, want one (aggregate them, e.g. with sum()); first: %s",
			len(v), v[0].Metric)
	case model.Matrix:
		return 0, "query returned a range vector, want one number (use an instant query, e.g. rate(...[1m]) rather than ...[1m])"
	case nil:
		return 0, "query returned nothing"
	}
	return 0, fmt.Sprintf("query returned a %s, want one number", v.Type())
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
