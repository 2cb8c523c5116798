package monitoring

//lint:file-ignore SA1019 the pinned Grafana (11.6) provisions classic dashboard JSON, the SDK's dashboard package; dashboardv2 is Grafana 12's schema

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// The dashboards are built with Grafana's own typed SDK rather than written
// as JSON: a misspelt field or a wrong type is a compile error, and the
// queries share the metric contract with the alert rules (rules.go).
// Grafana loads them from the provisioning directory; editing them in its
// UI is disabled, so this file stays the source of truth.

// Grafana template variables the queries use. AppVariable is the dashboard's
// app picker; RateInterval is Grafana's own window for rate(), at least four
// scrape intervals.
const (
	AppVariable  = "$app"
	RateInterval = "$__rate_interval"
)

// promDatasource is the datasource the provisioning file declares.
func promDatasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("prometheus")}
}

// series is a time series panel in the style of every hstack panel: one
// line per series with its legend shown (versions are told apart by it) and
// a tooltip listing every series at the hovered time.
func series(title, unit string, h, w uint32) *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Title(title).
		Datasource(promDatasource()).
		Unit(unit).Min(0).
		Height(h).Span(w).
		Legend(common.NewVizLegendOptionsBuilder().
			ShowLegend(true).
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom)).
		Tooltip(common.NewVizTooltipOptionsBuilder().
			Mode(common.TooltipDisplayModeMulti).
			Sort(common.SortOrderDescending))
}

func singleStat(title, unit string, h, w uint32) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Datasource(promDatasource()).
		Unit(unit).
		Height(h).Span(w)
}

func promQuery(ref, expr, legend string) *prometheus.DataqueryBuilder {
	return prometheus.NewDataqueryBuilder().RefId(ref).Expr(expr).LegendFormat(legend).Datasource(promDatasource())
}

// appFilter selects an app's samples of one contract metric.
func appFilter(metric string, extra ...string) string {
	s := "{" + metric + `, app="` + AppVariable + `"`
	for _, e := range extra {
		s += ", " + e
	}
	return s + "}"
}

// Dashboard panel titles that tests look up.
const (
	PanelRequestRate = "Requests per second by version"
	PanelErrorRatio  = "5xx ratio by version"
)

// appDashboard shows one app by version, so that during a canary release
// the canary's line is beside the stable version's in every panel.
func appDashboard() *dashboard.DashboardBuilder {
	rate := func(sel string) string { return fmt.Sprintf("rate(%s[%s])", sel, RateInterval) }
	requests := appFilter(requestsMetric)
	return dashboard.NewDashboardBuilder("hstack / app").
		Uid("hstack-app").
		Description("Per app, by version, so a canary and the stable version are side by side. Metrics follow hstack's contract (docs/monitoring.md): [<prefix>_]http_requests_total{code} and [<prefix>_]http_request_duration_seconds.").
		Tags([]string{"hstack"}).
		Readonly().
		Refresh("30s").
		Time("now-1h", "now").
		WithVariable(dashboard.NewQueryVariableBuilder("app").
			Label("app").
			Datasource(promDatasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(`label_values(up{app!=""}, app)`)}).
			Definition(`label_values(up{app!=""}, app)`).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc)).
		WithPanel(series(PanelRequestRate, "reqps", 8, 12).
			WithTarget(promQuery("A", "sum by (version) ("+rate(requests)+")", "{{version}}"))).
		WithPanel(series(PanelErrorRatio, "percentunit", 8, 12).
			// A version that answered no 5xx has no such series: "or 0 *"
			// makes it 0% instead of no line at all.
			WithTarget(promQuery("A",
				"(sum by (version) ("+rate(appFilter(requestsMetric, `code=~"5.."`))+") or 0 * sum by (version) ("+rate(requests)+"))"+
					" / sum by (version) ("+rate(requests)+")",
				"{{version}}"))).
		WithPanel(series("Request duration by version (p50, p99)", "s", 8, 12).
			WithTarget(promQuery("A",
				"histogram_quantile(0.99, sum by (version, le) ("+rate(appFilter(durationMetric))+"))", "{{version}} p99")).
			WithTarget(promQuery("B",
				"histogram_quantile(0.5, sum by (version, le) ("+rate(appFilter(durationMetric))+"))", "{{version}} p50"))).
		WithPanel(series("Instances up by version", "short", 8, 12).Decimals(0).
			// canary="true" while Nomad registers the instance with its
			// canary tags, i.e. until the release is promoted.
			WithTarget(promQuery("A", `count by (version, canary) (up{app="`+AppVariable+`"} == 1)`, "{{version}} canary={{canary}}"))).
		WithPanel(series("Requests per second by version and status code", "reqps", 8, 24).
			WithTarget(promQuery("A", "sum by (version, code) ("+rate(requests)+")", "{{version}} {{code}}")))
}

// clusterDashboard shows the health of Nomad, Consul and Vault and what runs
// on the nodes.
func clusterDashboard() *dashboard.DashboardBuilder {
	return dashboard.NewDashboardBuilder("hstack / cluster").
		Uid("hstack-cluster").
		Description("Nomad, Consul and Vault health, allocations and node resources.").
		Tags([]string{"hstack"}).
		Readonly().
		Refresh("30s").
		Time("now-3h", "now").
		WithPanel(singleStat("Telemetry targets up", "short", 6, 12).
			WithTarget(promQuery("A", `up{job=~"nomad|consul|vault"}`, "{{job}} {{instance}}"))).
		WithPanel(singleStat("Vault unsealed", "bool_yes_no", 6, 6).
			WithTarget(promQuery("A", "vault_core_unsealed", "{{instance}}"))).
		WithPanel(singleStat("Consul and Nomad autopilot healthy", "bool_yes_no", 6, 6).
			WithTarget(promQuery("A", "max(consul_autopilot_healthy)", "consul")).
			WithTarget(promQuery("B", "max(nomad_nomad_autopilot_healthy)", "nomad"))).
		WithPanel(series("Nomad allocations by node", "short", 8, 12).
			WithTarget(promQuery("A", "sum by (host) (nomad_client_allocations_running)", "{{host}} running")).
			WithTarget(promQuery("B", "sum by (host) (nomad_client_allocations_pending)", "{{host}} pending"))).
		WithPanel(series("Nomad jobs by status", "short", 8, 12).
			WithTarget(promQuery("A", "max(nomad_nomad_job_status_running)", "running")).
			WithTarget(promQuery("B", "max(nomad_nomad_job_status_pending)", "pending")).
			WithTarget(promQuery("C", "max(nomad_nomad_job_status_dead)", "dead"))).
		WithPanel(series("Node CPU busy", "percentunit", 8, 12).Max(1).
			WithTarget(promQuery("A", `1 - avg by (node) (rate(node_cpu_seconds_total{mode="idle"}[`+RateInterval+`]))`, "{{node}}"))).
		WithPanel(series("Node memory used", "percentunit", 8, 12).Max(1).
			WithTarget(promQuery("A", "1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes", "{{node}}")))
}

// Dashboard is one provisioned dashboard: its file name under the
// provisioning directory and the typed model it is encoded from.
type Dashboard struct {
	File  string
	Model dashboard.Dashboard
}

// Dashboards builds the dashboards hstack provisions, in file order.
func Dashboards() ([]Dashboard, error) {
	var out []Dashboard
	for _, d := range []struct {
		file string
		b    *dashboard.DashboardBuilder
	}{{"app.json", appDashboard()}, {"cluster.json", clusterDashboard()}} {
		m, err := d.b.Build()
		if err != nil {
			return nil, fmt.Errorf("dashboard %s: %w", d.file, err)
		}
		out = append(out, Dashboard{File: d.file, Model: m})
	}
	return out, nil
}

// JSON is the file Grafana reads.
func (d Dashboard) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(d.Model, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("dashboard %s: %w", d.File, err)
	}
	return append(b, '\n'), nil
}

// PanelQuery is one PromQL target of a dashboard panel.
type PanelQuery struct {
	Dashboard, Panel, RefID, Expr string
}

// Queries lists every Prometheus target of the dashboard's panels.
func (d Dashboard) Queries() []PanelQuery {
	var out []PanelQuery
	for _, p := range d.Model.Panels {
		if p.Panel == nil {
			continue
		}
		for _, t := range p.Panel.Targets {
			if q, ok := promTarget(t); ok {
				out = append(out, PanelQuery{
					Dashboard: deref(d.Model.Uid), Panel: deref(p.Panel.Title),
					RefID: deref(q.RefId), Expr: q.Expr,
				})
			}
		}
	}
	return out
}

// PromQL is the query as Grafana sends it to Prometheus for app, with
// rateInterval as $__rate_interval.
func (q PanelQuery) PromQL(app string, rateInterval time.Duration) string {
	return strings.NewReplacer(RateInterval, promDuration(rateInterval), AppVariable, app).Replace(q.Expr)
}

func promTarget(t variants.Dataquery) (prometheus.Dataquery, bool) {
	switch q := t.(type) {
	case prometheus.Dataquery:
		return q, true
	case *prometheus.Dataquery:
		return *q, q != nil
	}
	return prometheus.Dataquery{}, false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
