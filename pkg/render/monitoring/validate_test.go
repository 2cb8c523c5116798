package monitoring

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The configuration files are checked by the products' own validators,
// from the Debian packages the dev stack runs (promtool ships with
// prometheus, amtool with prometheus-alertmanager).

func forBothEnvs(t *testing.T, f func(t *testing.T, o Options)) {
	t.Run("local", func(t *testing.T) { f(t, localOpts()) })
	t.Run("prod", func(t *testing.T) { f(t, prodOpts()) })
}

func TestRulesPromtoolCheck(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	forBothEnvs(t, func(t *testing.T, o Options) {
		job := findJob(t, mustJobs(t, parseStack(t, fullStack), o), Prometheus)
		dir := t.TempDir()
		writeRendered(t, newFakeClient(dir), job, dir)
		run(t, dir, promtool, "check", "rules", promRulesFile)
	})
}

func TestPrometheusConfigPromtoolCheck(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	forBothEnvs(t, func(t *testing.T, o Options) {
		job := findJob(t, mustJobs(t, parseStack(t, fullStack), o), Prometheus)
		dir := t.TempDir()
		writeRendered(t, newFakeClient(dir), job, dir)
		cfg, _ := os.ReadFile(filepath.Join(dir, promConfigFile))
		if strings.Contains(string(cfg), "{{") {
			t.Fatalf("unrendered action left:\n%s", cfg)
		}
		// Also checks that rule_files finds the rules next to it.
		run(t, dir, promtool, "check", "config", promConfigFile)
	})
}

func TestAlertmanagerConfigAmtoolCheck(t *testing.T) {
	amtool := requireTool(t, "amtool", "prometheus-alertmanager")
	forBothEnvs(t, func(t *testing.T, o Options) {
		job := findJob(t, mustJobs(t, parseStack(t, fullStack), o), Alertmanager)
		dir := t.TempDir()
		writeRendered(t, newFakeClient(dir), job, dir)
		run(t, dir, amtool, "check-config", amConfigFile)
	})
}

// TestDashboardQueriesParse has promtool parse every dashboard query, as a
// recording rule, with Grafana's variables replaced.
func TestDashboardQueriesParse(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	ds, err := Dashboards()
	if err != nil {
		t.Fatal(err)
	}
	var rules []map[string]string
	for _, d := range ds {
		for _, q := range d.Queries() {
			rules = append(rules, map[string]string{"record": fmt.Sprintf("dashboard:query%d", len(rules)), "expr": q.PromQL("pingapp", time.Minute)})
		}
	}
	y, err := encodeYAML(map[string]any{"groups": []map[string]any{{"name": "dashboards", "rules": rules}}})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "dashboards.yml"), []byte(y), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "check", "rules", "dashboards.yml")
}

// ruleTestStack is the integration test's stack: one instance, fast
// intervals.
const ruleTestStack = `
stack "t" {}

app "pingapp" {
  driver  = "raw_exec"
  command = "/bin/true"
  port "http" {}
}

monitoring {
  prometheus {
    scrape_interval = "2s"
  }
}
`

// TestRulesBehave runs the generated rules on synthetic series with
// promtool's rule unit tests: InstanceDown must fire when an instance's
// target disappears (Prometheus writes a stale marker, up never becomes
// 0), and the app rules must read metrics with and without a namespace
// prefix.
func TestRulesBehave(t *testing.T) {
	promtool := requireTool(t, "promtool", "prometheus")
	job := findJob(t, mustJobs(t, parseStack(t, ruleTestStack), localOpts()), Prometheus)
	dir := t.TempDir()
	writeRendered(t, newFakeClient(dir), job, dir)

	const tests = `
rule_files: [local/rules/hstack.rules.yml]
evaluation_interval: 2s
tests:
  - interval: 2s
    input_series:
      # Up for 10s, then deregistered: stale, never 0.
      - series: 'up{job="pingapp", app="pingapp", instance="127.0.0.1:1"}'
        values: '1 1 1 1 1 1 stale'
    alert_rule_test:
      - eval_time: 10s
        alertname: InstanceDown
        exp_alerts: []
      # Pending for the 10s "for" window...
      - eval_time: 18s
        alertname: InstanceDown
        exp_alerts: []
      # ...then firing.
      - eval_time: 30s
        alertname: InstanceDown
        exp_alerts:
          - exp_labels: {app: pingapp, severity: critical}
            exp_annotations:
              summary: "pingapp: 0 of 1 instances up"
              description: "Fewer instances of pingapp answer Prometheus than the 1 it should run. Check ` + "`nomad job status pingapp`" + `."

  - interval: 2s
    input_series:
      # Version 2 (a canary) fails 1 request in 11; version 1 never.
      - series: 'pingapp_http_requests_total{app="pingapp", version="2", code="200", route="/ping"}'
        values: '0+10x100'
      - series: 'pingapp_http_requests_total{app="pingapp", version="2", code="503", route="/ping"}'
        values: '0+1x100'
      - series: 'pingapp_http_requests_total{app="pingapp", version="1", code="200", route="/ping"}'
        values: '0+10x100'
      - series: 'up{job="pingapp", app="pingapp", instance="a"}'
        values: '1x100'
    alert_rule_test:
      - eval_time: 2m
        alertname: AppHighErrorRate
        exp_alerts:
          - exp_labels: {app: pingapp, severity: warning, version: "2"}
            exp_annotations:
              summary: "pingapp version 2: 9.091% of requests fail"
              description: "More than 5% of the HTTP requests to pingapp answered 5xx over 1m."
      - eval_time: 2m
        alertname: InstanceDown
        exp_alerts: []

  - interval: 2s
    input_series:
      # No prefix, all slow: every request in the 2.5s bucket.
      - series: 'http_request_duration_seconds_bucket{app="pingapp", version="1", le="1"}'
        values: '0x100'
      - series: 'http_request_duration_seconds_bucket{app="pingapp", version="1", le="2.5"}'
        values: '0+5x100'
      - series: 'http_request_duration_seconds_bucket{app="pingapp", version="1", le="+Inf"}'
        values: '0+5x100'
    alert_rule_test:
      - eval_time: 2m
        alertname: AppHighLatencyP99
        exp_alerts:
          - exp_labels: {app: pingapp, severity: warning, version: "1"}
            exp_annotations:
              summary: "pingapp version 1: p99 latency 2.485s"
              description: "The 99th percentile of pingapp's request duration exceeded 1s over 1m."
`
	if err := os.WriteFile(filepath.Join(dir, "rules_test.yml"), []byte(tests), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, dir, promtool, "test", "rules", "rules_test.yml")
}
