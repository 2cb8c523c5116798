package stackfile

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
)

// The rollout policy: what a rollout's settings mean for who promotes
// canaries and what a release needs, decided here once for render (Nomad's
// update block), release (the gates and auto-promotion) and the CLI
// (--strategy, --auto-promote, finding Prometheus).

// Gated reports whether hstack checks canaries before promotion: steps,
// analyses, smoke tests or a load test. A rolling rollout starts no
// canaries, so it is never gated.
func (r *Rollout) Gated() bool {
	if r.Strategy == StrategyRolling {
		return false
	}
	return len(r.Steps) > 0 || len(r.Analyses) > 0 || len(r.SmokeTests) > 0 || r.LoadTest != nil
}

// PromotesAutomatically reports whether hstack promotes canaries that pass
// their gates without waiting for `hstack promote`: the stack file's
// auto_promote, or true when the rollout is gated (the gates are the
// judgement); override (--auto-promote) wins when set.
func (r *Rollout) PromotesAutomatically(override *bool) bool {
	if override != nil {
		return *override
	}
	return r.AutoPromote || r.Gated()
}

// NomadPromotes reports whether Nomad may promote canaries by itself
// (auto_promote in the update block): only when nothing is left for hstack
// to check first.
func (r *Rollout) NomadPromotes() bool {
	return r.Canary > 0 && r.AutoPromote && !r.Gated()
}

// NeedsPrometheus reports whether releasing with this rollout queries
// Prometheus: analyses on a canary or blue-green rollout, or any step's.
func (r *Rollout) NeedsPrometheus() bool {
	if r.Strategy == StrategyRolling {
		return false
	}
	if len(r.Analyses) > 0 {
		return true
	}
	for _, s := range r.Steps {
		if len(s.Analysis) > 0 {
			return true
		}
	}
	return false
}

// OverrideStrategy releases every app with strategy instead of the stack
// file's (`hstack deploy --strategy`). Each rollout's canary count is
// normalised for the new strategy as the stack file's defaults would have
// it (rolling: none; canary: the file's count, or 1; blue-green: the app's
// count), then the rollout rules run again, so an override that leaves part
// of a rollout meaningless (a load test or analyses on a rolling release,
// steps without canaries) is refused with the range of what it would drop,
// instead of silently ignoring it. Smoke tests are the exception the stack
// file itself makes: a rolling rollout may declare them, for when it is
// released as a canary.
func (s *Stack) OverrideStrategy(strategy Strategy) hcl.Diagnostics {
	switch strategy {
	case StrategyRolling, StrategyCanary, StrategyBlueGreen:
	default:
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid strategy",
			Detail: fmt.Sprintf("--strategy %q: want rolling, canary or blue-green.", strategy)}}
	}
	d := &decoder{}
	for _, a := range s.Apps {
		r := &a.Rollout
		if r.Strategy == strategy {
			continue
		}
		r.Strategy = strategy
		switch strategy {
		case StrategyRolling:
			r.Canary = 0
		case StrategyCanary:
			r.Canary = max(r.Canary, 1)
		case StrategyBlueGreen:
			r.Canary = a.Count
		}
		if strategy == StrategyRolling {
			for _, an := range r.Analyses {
				d.errorf(an.DeclRange, "Analysis without canaries",
					"App %q: an analysis judges canaries, and a rolling release has none. Release it with its own strategy, or remove the analysis.", a.Name)
			}
		}
		// The file's canary attribute was written for its own strategy.
		attrs := r.Attrs
		r.Attrs = make(Ranges, len(attrs))
		for k, v := range attrs {
			if k != "canary" {
				r.Attrs[k] = v
			}
		}
		d.validateRollout(s, a, r)
		r.Attrs = attrs
	}
	for _, diag := range d.diags {
		diag.Summary = fmt.Sprintf("%s (with --strategy %s)", diag.Summary, strategy)
	}
	return d.diags
}
