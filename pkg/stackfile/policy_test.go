package stackfile

import (
	"strings"
	"testing"
)

func TestRolloutPolicy(t *testing.T) {
	on, off := true, false
	for _, c := range []struct {
		name                          string
		r                             Rollout
		gated, auto, nomad, prom      bool
		autoOverrideOff, autoOverride bool
	}{
		{name: "rolling", r: Rollout{Strategy: StrategyRolling, Analyses: []*Analysis{{Name: "x"}}}},
		{name: "canary by hand", r: Rollout{Strategy: StrategyCanary, Canary: 1}},
		{name: "canary promoted by nomad", r: Rollout{Strategy: StrategyCanary, Canary: 1, AutoPromote: true}, auto: true, nomad: true},
		{name: "canary with analysis", r: Rollout{Strategy: StrategyCanary, Canary: 1, AutoPromote: true, Analyses: []*Analysis{{Name: "x"}}}, gated: true, auto: true, prom: true},
		{name: "canary with smoke test", r: Rollout{Strategy: StrategyCanary, Canary: 1, SmokeTests: []*SmokeTest{{}}}, gated: true, auto: true},
		{name: "canary with load test", r: Rollout{Strategy: StrategyCanary, Canary: 1, AutoPromote: true, LoadTest: &LoadTest{}}, gated: true, auto: true},
		{name: "steps with a step analysis", r: Rollout{Strategy: StrategyCanary, Canary: 1, Steps: []*Step{{Canary: 2, Analysis: []string{"error-rate"}}}}, gated: true, auto: true, prom: true},
		{name: "blue-green", r: Rollout{Strategy: StrategyBlueGreen, Canary: 3}},
	} {
		r := c.r
		if got := r.Gated(); got != c.gated {
			t.Errorf("%s: Gated = %v", c.name, got)
		}
		if got := r.PromotesAutomatically(nil); got != c.auto {
			t.Errorf("%s: PromotesAutomatically = %v", c.name, got)
		}
		if !r.PromotesAutomatically(&on) || r.PromotesAutomatically(&off) {
			t.Errorf("%s: --auto-promote does not win", c.name)
		}
		if got := r.NomadPromotes(); got != c.nomad {
			t.Errorf("%s: NomadPromotes = %v", c.name, got)
		}
		if got := r.NeedsPrometheus(); got != c.prom {
			t.Errorf("%s: NeedsPrometheus = %v", c.name, got)
		}
	}
}

const overrideStack = `
stack "shop" {}
app "web" {
  image = "web:1"
  count = 3
  port "http" {}
  rollout {
    strategy = "canary"
    canary   = 2
    load_test {
      rate = 5
    }
  }
}
app "api" {
  image = "api:1"
  count = 2
  port "http" {}
  rollout {
    strategy = "canary"
    smoke_test "ping" {
      path = "/ping"
    }
  }
}
app "plain" {
  image = "plain:1"
  count = 2
  port "http" {}
}
`

func TestOverrideStrategy(t *testing.T) {
	load := func(t *testing.T) *Stack {
		t.Helper()
		st, diags := Parse([]byte(overrideStack), "hstack.hcl", LoadOptions{})
		if diags.HasErrors() {
			t.Fatal(diags)
		}
		return st
	}
	st := load(t)
	diags := st.OverrideStrategy(StrategyRolling)
	if !diags.HasErrors() {
		t.Fatal("--strategy rolling accepted a load test")
	}
	var msg string
	for _, d := range diags {
		msg += d.Subject.String() + ": " + d.Summary + "\n"
	}
	for _, want := range []string{"Load test without canaries (with --strategy rolling)", "hstack.hcl:10,"} {
		if !strings.Contains(msg, want) {
			t.Errorf("diagnostics lack %q: %s", want, msg)
		}
	}

	if strings.Contains(msg, "Smoke test") {
		t.Errorf("a smoke test on a rolling rollout is the stack file's own allowance: %s", msg)
	}

	st = load(t)
	if diags := st.OverrideStrategy(StrategyBlueGreen); diags.HasErrors() {
		t.Fatal(diags)
	}
	for _, a := range st.Apps {
		if a.Rollout.Strategy != StrategyBlueGreen || a.Rollout.Canary != a.Count {
			t.Errorf("%s: %s with %d canaries", a.Name, a.Rollout.Strategy, a.Rollout.Canary)
		}
	}
	st = load(t)
	if diags := st.OverrideStrategy(StrategyCanary); diags.HasErrors() {
		t.Fatal(diags)
	}
	if web, plain := st.App("web"), st.App("plain"); web.Rollout.Canary != 2 || plain.Rollout.Canary != 1 {
		t.Errorf("canaries: web %d (the file's), plain %d (the default)", web.Rollout.Canary, plain.Rollout.Canary)
	}
	if diags := load(t).OverrideStrategy("sideways"); !diags.HasErrors() || !strings.Contains(diags.Error(), "--strategy") {
		t.Errorf("bad strategy: %v", diags)
	}
}
