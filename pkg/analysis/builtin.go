package analysis

import (
	"sort"
	"time"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Names of the built-in analyses.
const (
	BuiltinSuccessRate = "success-rate"
	BuiltinLatencyP99  = "latency-p99"
)

// probeRoutes are requests that are not user traffic: Consul's health
// checks and Prometheus' scrapes. They always succeed and are fast, so on a
// quiet canary they would outnumber real requests and hide its errors. An
// app without a route label is unaffected (an absent label does not match).
const probeRoutes = `/healthz|/readyz|/metrics`

// The metric contract is the monitoring stack's (docs/monitoring.md): a
// counter *http_requests_total{code} and a histogram
// *http_request_duration_seconds, each with at most one namespace prefix
// (pingapp's is "pingapp_"), selected by name pattern so that any app
// meeting the contract gets the built-ins. app and version are target
// labels that hstack's Prometheus sets from the Consul service name and its
// "version" meta.
const (
	sel      = `app="{{ .App }}",version="{{ .Version }}",route!~"` + probeRoutes + `"`
	requests = `{__name__=~"(.+_)?http_requests_total",` + sel
	buckets  = `{__name__=~"(.+_)?http_request_duration_seconds_bucket",` + sel
)

// The success rate is 1 - errors/all rather than good/all: a canary that
// answers nothing but 5xx has no non-5xx series at all, and good/all would
// then be an empty result (inconclusive) instead of 0 (failed). "or
// vector(0)" makes "no 5xx series" mean zero errors, while no traffic
// still divides by zero into NaN, which is inconclusive.
const successRateQuery = `1 - (
  sum(rate(` + requests + `,code=~"5.."}[1m]))
  or vector(0)
) / sum(rate(` + requests + `}[1m]))`

const latencyP99Query = `histogram_quantile(0.99,
  sum by (le) (rate(` + buckets + `}[1m]))
)`

// Three one-minute measurements, of which one may fail and one may be
// inconclusive: one bad minute on a canary that sees little traffic is
// noise (one error in fifty requests is already below 99%), two of three
// are not.
var builtins = map[string]stackfile.Analysis{
	BuiltinSuccessRate: {
		Name: BuiltinSuccessRate, Query: successRateQuery,
		Interval: time.Minute, Count: 3, Min: ptr(0.99),
		FailureLimit: 1, InconclusiveLimit: 1,
	},
	BuiltinLatencyP99: {
		Name: BuiltinLatencyP99, Query: latencyP99Query,
		Interval: time.Minute, Count: 3, Max: ptr(0.5),
		FailureLimit: 1, InconclusiveLimit: 1,
	},
}

func ptr(f float64) *float64 { return &f }

// Builtin returns a fresh copy of the built-in analysis with that name, so
// that a caller may adjust it without affecting others.
func Builtin(name string) (*stackfile.Analysis, bool) {
	b, ok := builtins[name]
	if !ok {
		return nil, false
	}
	if b.Min != nil {
		b.Min = ptr(*b.Min)
	}
	if b.Max != nil {
		b.Max = ptr(*b.Max)
	}
	return &b, true
}

// BuiltinNames lists the built-in analyses, sorted.
func BuiltinNames() []string {
	out := make([]string, 0, len(builtins))
	for n := range builtins {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Lookup finds the analysis a step names: the rollout's own declaration
// first, so that a stack file can redefine a built-in under its name, then
// the built-ins.
func Lookup(r *stackfile.Rollout, name string) (*stackfile.Analysis, bool) {
	if r != nil {
		if a := r.Analysis(name); a != nil {
			return a, true
		}
	}
	return Builtin(name)
}
