package monitoring

import (
	"fmt"
	"time"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Prometheus rule files
// (https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/).
type ruleFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// The metric contract of an app (docs/monitoring.md): a counter
// http_requests_total with a "code" label and a histogram
// http_request_duration_seconds, each optionally under one namespace
// prefix (pingapp_http_requests_total). Matching the name by regex keeps
// the rules independent of the prefix.
const (
	requestsMetric = `__name__=~"(.+_)?http_requests_total"`
	durationMetric = `__name__=~"(.+_)?http_request_duration_seconds_bucket"`
)

// Thresholds of the app rules.
const (
	errorRatioThreshold = 0.05 // of requests answered 5xx
	latencyP99Threshold = 1.0  // seconds
	nodeCPUThreshold    = 0.9
	nodeMemThreshold    = 0.9
	nodeDiskFreeMin     = 0.1
)

// timing holds the rule windows of an environment. Locally alerts should
// show up while a developer is still looking, so they wait about two
// scrapes; in production they wait out what routinely makes a target
// vanish for a moment: a rolling update, a rescheduled allocation.
type timing struct {
	instanceDown time.Duration // InstanceDown and cluster targets down
	app          time.Duration // error ratio and latency
	window       time.Duration // rate() window
	node         time.Duration // host resources
}

func (r *renderer) timing() timing {
	s := r.m.Prometheus.ScrapeInterval
	if r.local {
		return timing{
			instanceDown: max(10*time.Second, 2*s),
			app:          max(30*time.Second, 4*s),
			window:       max(time.Minute, 4*s),
			node:         10 * time.Minute,
		}
	}
	return timing{
		instanceDown: max(2*time.Minute, 4*s),
		app:          max(5*time.Minute, 4*s),
		window:       max(5*time.Minute, 4*s),
		node:         15 * time.Minute,
	}
}

// desiredInstances is how many instances of a should be up: its count, or
// the autoscaler's floor when it scales.
func desiredInstances(a *stackfile.App) int {
	if a.Scaling != nil {
		return a.Scaling.Min
	}
	return a.Count
}

// AlertRule is one alert rule of the rules file Prometheus is given.
type AlertRule struct {
	Group, Alert, Expr string
}

// AlertRules lists the alert rules rendered for st, as in the rules file.
func AlertRules(st *stackfile.Stack, opts Options) ([]AlertRule, error) {
	if st == nil || st.Monitoring == nil {
		return nil, nil
	}
	r, err := newRenderer(st, opts)
	if err != nil {
		return nil, err
	}
	var out []AlertRule
	for _, g := range r.ruleFile().Groups {
		for _, rl := range g.Rules {
			out = append(out, AlertRule{Group: g.Name, Alert: rl.Alert, Expr: rl.Expr})
		}
	}
	return out, nil
}

// rules is the rules file, delivered verbatim (rawTemplate): the
// annotations are Prometheus templates.
func (r *renderer) rules() (string, error) {
	return encodeYAML(r.ruleFile())
}

func (r *renderer) ruleFile() ruleFile {
	tm := r.timing()
	win := promDuration(tm.window)
	var f ruleFile
	for _, a := range r.st.Apps {
		g := ruleGroup{Name: "app-" + a.Name}
		app := fmt.Sprintf("app=%q", a.Name)
		if n := desiredInstances(a); n > 0 {
			// Nomad deregisters a stopped instance from Consul, so its
			// target disappears instead of reporting up == 0: count the
			// instances that are up, and count nothing as 0.
			g.Rules = append(g.Rules, rule{
				Alert:  "InstanceDown",
				Expr:   fmt.Sprintf("(count(up{%s} == 1) or vector(0)) < %d", app, n),
				For:    promDuration(tm.instanceDown),
				Labels: map[string]string{"severity": "critical", "app": a.Name},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("%s: {{ $value }} of %d instances up", a.Name, n),
					"description": fmt.Sprintf("Fewer instances of %s answer Prometheus than the %d it should run. Check `nomad job status %s`.", a.Name, n, a.Name),
				},
			})
		}
		g.Rules = append(g.Rules,
			rule{
				Alert: "AppHighErrorRate",
				Expr: fmt.Sprintf("sum by (version) (rate({%s, %s, code=~\"5..\"}[%s])) / sum by (version) (rate({%s, %s}[%s])) > %g",
					requestsMetric, app, win, requestsMetric, app, win, errorRatioThreshold),
				For:    promDuration(tm.app),
				Labels: map[string]string{"severity": "warning", "app": a.Name},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("%s version {{ $labels.version }}: {{ $value | humanizePercentage }} of requests fail", a.Name),
					"description": fmt.Sprintf("More than %g%% of the HTTP requests to %s answered 5xx over %s.", errorRatioThreshold*100, a.Name, win),
				},
			},
			rule{
				Alert: "AppHighLatencyP99",
				Expr: fmt.Sprintf("histogram_quantile(0.99, sum by (version, le) (rate({%s, %s}[%s]))) > %g",
					durationMetric, app, win, latencyP99Threshold),
				For:    promDuration(tm.app),
				Labels: map[string]string{"severity": "warning", "app": a.Name},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("%s version {{ $labels.version }}: p99 latency {{ $value | humanizeDuration }}", a.Name),
					"description": fmt.Sprintf("The 99th percentile of %s's request duration exceeded %gs over %s.", a.Name, latencyP99Threshold, win),
				},
			},
		)
		f.Groups = append(f.Groups, g)
	}
	f.Groups = append(f.Groups, r.clusterRules(tm), r.monitoringRules(tm))
	if r.m.NodeExporter.Enabled {
		f.Groups = append(f.Groups, r.nodeRules(tm))
	}
	return f
}

// targetDown alerts when a scrape job's targets fail or, discovered
// through Consul, have all vanished.
func targetDown(alert, job, what string, forD time.Duration) rule {
	return rule{
		Alert:  alert,
		Expr:   fmt.Sprintf("up{job=%q} == 0 or absent(up{job=%q})", job, job),
		For:    promDuration(forD),
		Labels: map[string]string{"severity": "critical"},
		Annotations: map[string]string{
			"summary":     fmt.Sprintf("%s on {{ $labels.instance }} does not answer Prometheus", what),
			"description": fmt.Sprintf("Prometheus cannot scrape %s's telemetry (job %q), or finds no instance of it.", what, job),
		},
	}
}

func (r *renderer) clusterRules(tm timing) ruleGroup {
	g := ruleGroup{Name: "cluster", Rules: []rule{
		targetDown("NomadDown", "nomad", "Nomad", tm.instanceDown),
		targetDown("ConsulDown", "consul", "Consul", tm.instanceDown),
	}}
	if !r.local {
		// The dev stack's Vault requires a token for /v1/sys/metrics, so
		// locally the target is always down.
		g.Rules = append(g.Rules, targetDown("VaultDown", "vault", "Vault", tm.instanceDown))
	}
	g.Rules = append(g.Rules,
		rule{
			Alert:  "VaultSealed",
			Expr:   "vault_core_unsealed == 0",
			For:    promDuration(tm.instanceDown),
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "Vault on {{ $labels.instance }} is sealed",
				"description": "A sealed Vault serves no secrets: no new database credentials, no task starts that needs one. Unseal it.",
			},
		},
		rule{
			Alert:  "NomadNodeNotReady",
			Expr:   `group by (host, node_id, node_status) (nomad_client_allocations_running{node_status!="ready"})`,
			For:    promDuration(tm.instanceDown),
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary":     "Nomad client {{ $labels.host }} is {{ $labels.node_status }}",
				"description": "The node reports a status other than ready, so Nomad places no new work on it. Check `nomad node status {{ $labels.node_id }}`.",
			},
		},
	)
	return g
}

// monitoringRules watch the watchers: a rule that cannot be evaluated (an
// app breaking the metric contract, for one) and notifications that do not
// go out are otherwise silent.
func (r *renderer) monitoringRules(tm timing) ruleGroup {
	win := promDuration(tm.window)
	g := ruleGroup{Name: "monitoring", Rules: []rule{{
		Alert:  "PrometheusRuleEvaluationFailures",
		Expr:   fmt.Sprintf("sum by (rule_group) (increase(prometheus_rule_evaluation_failures_total[%s])) > 0", win),
		Labels: map[string]string{"severity": "warning"},
		Annotations: map[string]string{
			"summary":     "Rules of group {{ $labels.rule_group }} fail to evaluate",
			"description": "Alerts of this group cannot fire. Prometheus' log says why; an app exporting two *_http_requests_total counters is one cause.",
		},
	}}}
	if r.m.Alertmanager.Enabled {
		g.Rules = append(g.Rules, rule{
			Alert:  "AlertmanagerNotificationsFailing",
			Expr:   fmt.Sprintf("sum by (integration) (increase(alertmanager_notifications_failed_total[%s])) > 0", win),
			Labels: map[string]string{"severity": "critical"},
			Annotations: map[string]string{
				"summary":     "Alertmanager fails to send {{ $labels.integration }} notifications",
				"description": "Alerts are not reaching people. Check the receiver's secret in Vault and Alertmanager's log.",
			},
		})
	}
	return g
}

func (r *renderer) nodeRules(tm timing) ruleGroup {
	win := promDuration(tm.window)
	return ruleGroup{Name: "nodes", Rules: []rule{
		{
			Alert:  "NodeHighCPU",
			Expr:   fmt.Sprintf(`1 - avg by (node, instance) (rate(node_cpu_seconds_total{mode="idle"}[%s])) > %g`, win, nodeCPUThreshold),
			For:    promDuration(tm.node),
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary": "{{ $labels.node }}: CPU {{ $value | humanizePercentage }} busy",
			},
		},
		{
			Alert:  "NodeHighMemory",
			Expr:   fmt.Sprintf(`1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes > %g`, nodeMemThreshold),
			For:    promDuration(tm.node),
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary": "{{ $labels.node }}: memory {{ $value | humanizePercentage }} used",
			},
		},
		{
			Alert: "NodeDiskFilling",
			Expr: fmt.Sprintf(`node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"} < %g`,
				nodeDiskFreeMin),
			For:    promDuration(tm.node),
			Labels: map[string]string{"severity": "warning"},
			Annotations: map[string]string{
				"summary": "{{ $labels.node }}: {{ $labels.mountpoint }} has {{ $value | humanizePercentage }} free",
			},
		},
	}}
}
