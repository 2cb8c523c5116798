// Package monitoring renders the observability part of a stack as Nomad
// jobs: Prometheus with hstack's alert rules, Alertmanager with receivers
// whose secrets come from Vault, node-exporter, and in production Grafana
// and log shipping. docs/monitoring.md describes what is rendered and why.
//
// Every configuration file is delivered by a Nomad template whose text is
// generated from Go structs through a YAML encoder, never by text templating
// YAML, so values from the stack file cannot change the structure of a
// file. Where a file needs something only known on the client (the node's
// address, a Vault secret), the encoder emits a placeholder that is swapped
// for the Nomad template action afterwards; see tmplDoc.
package monitoring

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Options say where the jobs run and how the cluster is reached.
type Options struct {
	// Local renders for the dev stack: Prometheus, Alertmanager and
	// node-exporter run the Debian binaries with raw_exec, and Grafana and
	// log shipping (docker only) are left out. Otherwise every job runs a
	// pinned docker image.
	Local bool
	// ConsulHTTPAddr is host:port of the Consul agent whose telemetry
	// Prometheus scrapes, or an http(s) URL (CONSUL_HTTP_ADDR may carry
	// the scheme, and a TLS-only agent needs https); "" means
	// 127.0.0.1:8500 locally, and in
	// production the Consul servers found in the catalog, on port 8500.
	// Targets are not discovered through it: the Nomad client's template
	// engine reads Consul's catalog (see discovery in prometheus.go).
	ConsulHTTPAddr string
	// NomadAddr and VaultAddr are the APIs scraped for telemetry, as URLs
	// (default http://127.0.0.1:4646 and :8200 locally). In production
	// Prometheus finds Nomad and Vault in Consul's catalog and takes only
	// the scheme from them, https when they are "".
	NomadAddr string
	VaultAddr string
	// Binaries override the raw_exec binaries by name: "prometheus",
	// "alertmanager", "node_exporter"; and AlertmanagerUI names the
	// directory of Alertmanager's web UI, which Debian's package lacks.
	Binaries map[string]string
}

// AlertmanagerUI is the Binaries key of the local Alertmanager's web UI
// directory (--web.ui-path).
const AlertmanagerUI = "alertmanager-ui"

// Component names: Nomad job IDs, the hstack_component meta value, and for
// the first ones also the Consul service names.
const (
	Prometheus   = "prometheus"
	Alertmanager = "alertmanager"
	NodeExporter = "node-exporter"
	Grafana      = "grafana"
	Loki         = "loki"
	Promtail     = "promtail"
	Vector       = "vector"
)

// MetaComponent is the job meta key naming the monitoring component.
const MetaComponent = "hstack_component"

// Images are the pinned production images. Their versions are at least the
// Debian binaries' (Prometheus 2.42, Alertmanager 0.25, node-exporter 1.5),
// so a configuration the tests validate with Debian's promtool and amtool
// is valid for them too.
var Images = map[string]string{
	Prometheus:   "prom/prometheus:v2.53.4",
	Alertmanager: "prom/alertmanager:v0.27.0",
	NodeExporter: "prom/node-exporter:v1.8.2",
	Grafana:      "grafana/grafana:11.6.0",
	Loki:         "grafana/loki:3.4.2",
	Promtail:     "grafana/promtail:3.4.2",
	Vector:       "timberio/vector:0.46.1-debian",
}

// DefaultBinaries are the Debian packages' paths, used when Local.
var DefaultBinaries = map[string]string{
	"prometheus":    "/usr/bin/prometheus",
	"alertmanager":  "/usr/bin/prometheus-alertmanager",
	"node_exporter": "/usr/bin/prometheus-node-exporter",
}

// Production ports are static so that Consul DNS names
// (prometheus.service.consul:9090) are enough to reach the services;
// locally every port is dynamic, so several dev stacks and tests coexist.
var staticPorts = map[string]int{
	Prometheus:   9090,
	Alertmanager: 9093,
	NodeExporter: 9100,
	Grafana:      3000,
	Loki:         3100,
	Promtail:     9080,
	Vector:       8686,
}

// NomadDataDir is the Nomad client data_dir on production nodes; log
// shippers read allocation logs under it.
const NomadDataDir = "/opt/nomad/data"

// containerUser is the uid the Prometheus project's images run as
// (nobody); secret files rendered for them must be readable by it.
const containerUser = 65534

// Jobs renders the monitoring jobs of st, in a fixed order: prometheus,
// alertmanager, node-exporter, then (production only) grafana, loki and
// promtail or vector. Components that are disabled are left out, and there
// are none when the stack has no monitoring block.
func Jobs(st *stackfile.Stack, opts Options) ([]*nomadapi.Job, error) {
	if st == nil || st.Monitoring == nil {
		return nil, nil
	}
	r, err := newRenderer(st, opts)
	if err != nil {
		return nil, err
	}
	m := st.Monitoring
	type build struct {
		on bool
		fn func() (*nomadapi.Job, error)
	}
	builds := []build{
		{m.Prometheus.Enabled, r.prometheusJob},
		{m.Alertmanager.Enabled, r.alertmanagerJob},
		{m.NodeExporter.Enabled, r.nodeExporterJob},
		{m.Grafana.Enabled && !opts.Local, r.grafanaJob},
		{m.Logs.Enabled && !opts.Local, r.lokiJob},
		{m.Logs.Enabled && !opts.Local && m.Logs.Backend != stackfile.LogsVector, r.promtailJob},
		{m.Logs.Enabled && !opts.Local && m.Logs.Backend == stackfile.LogsVector, r.vectorJob},
	}
	var jobs []*nomadapi.Job
	for _, b := range builds {
		if !b.on {
			continue
		}
		j, err := b.fn()
		if err != nil {
			return nil, err
		}
		jobs = append(jobs, j)
	}
	return jobs, nil
}

type renderer struct {
	st    *stackfile.Stack
	m     *stackfile.Monitoring
	opts  Options
	local bool
}

func newRenderer(st *stackfile.Stack, opts Options) (*renderer, error) {
	for name, addr := range map[string]string{"NomadAddr": opts.NomadAddr, "VaultAddr": opts.VaultAddr} {
		if addr == "" {
			continue
		}
		u, err := url.Parse(addr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("monitoring: %s %q is not an http(s) URL", name, addr)
		}
	}
	if a := opts.ConsulHTTPAddr; a != "" {
		u, err := url.Parse(a)
		switch {
		case strings.Contains(a, "://"):
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" {
				return nil, fmt.Errorf("monitoring: ConsulHTTPAddr %q is neither host:port nor an http(s) URL", a)
			}
		case strings.Contains(a, "/"):
			return nil, fmt.Errorf("monitoring: ConsulHTTPAddr %q is neither host:port nor an http(s) URL", a)
		}
	}
	return &renderer{st: st, m: st.Monitoring, opts: opts, local: opts.Local}, nil
}

func (r *renderer) binary(name string) string {
	if b := r.opts.Binaries[name]; b != "" {
		return b
	}
	return DefaultBinaries[name]
}

// job is the skeleton every monitoring job shares.
func (r *renderer) job(component, typ string) *nomadapi.Job {
	return &nomadapi.Job{
		ID:          new(component),
		Name:        new(component),
		Type:        new(typ),
		Region:      new(r.st.Region),
		Namespace:   new(r.st.Namespace),
		Datacenters: append([]string(nil), r.st.Datacenters...),
		// Above the default 50, so that on a full cluster the monitoring of
		// the apps is placed before (or preempts) the apps themselves.
		Priority: new(70),
		Meta: map[string]string{
			MetaComponent:  component,
			"hstack_stack": r.st.Name,
		},
	}
}

// restart is the policy of every task group: keep retrying with a delay
// rather than failing the allocation, because monitoring that gave up is
// worse than monitoring that flaps.
func (r *renderer) restart() *nomadapi.RestartPolicy {
	delay := 15 * time.Second
	if r.local {
		delay = 5 * time.Second
	}
	return &nomadapi.RestartPolicy{
		Attempts: new(3),
		Interval: new(5 * time.Minute),
		Delay:    new(delay),
		Mode:     new("delay"),
	}
}

// network allocates the port the component listens on: dynamic locally,
// its well-known static port in production.
func (r *renderer) network(component, label string) *nomadapi.NetworkResource {
	if r.local {
		return &nomadapi.NetworkResource{DynamicPorts: []nomadapi.Port{{Label: label}}}
	}
	return &nomadapi.NetworkResource{ReservedPorts: []nomadapi.Port{{Label: label, Value: staticPorts[component]}}}
}

// listenAddr is where a task binds. raw_exec tasks share the host network,
// so they bind the allocated address; containers bind every interface of
// their own network namespace and Docker maps the allocated port in.
func (r *renderer) listenAddr(label string) string {
	if r.local {
		return "${NOMAD_ADDR_" + label + "}"
	}
	return "0.0.0.0:${NOMAD_PORT_" + label + "}"
}

func (r *renderer) service(name, label, checkType, path string) *nomadapi.Service {
	interval := 10 * time.Second
	if r.local {
		interval = 2 * time.Second
	}
	return &nomadapi.Service{
		Name:      name,
		PortLabel: label,
		Provider:  "consul",
		Tags:      []string{"hstack-monitoring"},
		Checks: []nomadapi.ServiceCheck{{
			Name:     name + " ready",
			Type:     checkType,
			Path:     path,
			Interval: interval,
			Timeout:  2 * time.Second,
		}},
	}
}

// dockerConfig is the driver config of a container task publishing the
// given port labels.
func dockerConfig(image string, args []string, ports ...string) map[string]any {
	c := map[string]any{"image": image}
	if len(args) > 0 {
		c["args"] = anys(args)
	}
	if len(ports) > 0 {
		c["ports"] = anys(ports)
	}
	return c
}

func rawExecConfig(command string, args []string) map[string]any {
	return map[string]any{"command": command, "args": anys(args)}
}

// anys converts to the []any shape Nomad's jobspec parser produces for
// lists, so a job survives a round trip through HCL unchanged.
func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// newTemplate is a Nomad template that re-renders into dest and signals the
// task with SIGHUP, which every component here treats as "reload config".
func newTemplate(dest, data string) *nomadapi.Template {
	return &nomadapi.Template{
		DestPath:     new(dest),
		EmbeddedTmpl: new(data),
		ChangeMode:   new("signal"),
		ChangeSignal: new("SIGHUP"),
	}
}

// rawTemplate delivers a file that must reach the task verbatim but
// contains "{{" of its own (Prometheus alert templates, Grafana legends,
// Vector field templates): it gets delimiters that never occur in it.
func rawTemplate(dest, data string) (*nomadapi.Template, error) {
	if strings.Contains(data, rawLeft) || strings.Contains(data, rawRight) {
		return nil, fmt.Errorf("monitoring: %s contains the template delimiter %q or %q", dest, rawLeft, rawRight)
	}
	t := newTemplate(dest, data)
	t.LeftDelim, t.RightDelim = new(rawLeft), new(rawRight)
	return t, nil
}

const (
	rawLeft  = "<<%"
	rawRight = "%>>"
)

// secretTemplate renders a file holding a secret: owner-only, readable by
// the container's user, and failing instead of writing "<no value>" when
// the key is missing.
func (r *renderer) secretTemplate(dest, data string) *nomadapi.Template {
	t := newTemplate(dest, data)
	t.Perms = new("0600")
	t.ErrMissingKey = new(true)
	if !r.local {
		t.Uid, t.Gid = new(containerUser), new(containerUser)
	}
	return t
}

// promDuration formats d the way Prometheus and Alertmanager write
// durations ("15d", "1h30m", "2s"): their parser rejects Go's "360h0m0s".
func promDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	units := []struct {
		unit string
		size time.Duration
	}{
		{"d", 24 * time.Hour}, {"h", time.Hour},
		{"m", time.Minute}, {"s", time.Second}, {"ms", time.Millisecond},
	}
	// Prometheus has no unit below ms.
	d = d.Round(time.Millisecond)
	if d == 0 {
		return "1ms"
	}
	var b strings.Builder
	for _, u := range units {
		if n := d / u.size; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.unit)
			d -= n * u.size
		}
	}
	return b.String()
}

// schemeOf returns the URL scheme of addr, or def when addr is empty.
func schemeOf(addr, def string) string {
	if addr == "" {
		return def
	}
	u, _ := url.Parse(addr)
	return u.Scheme
}

// hostOf returns host:port of an http(s) URL, adding the scheme's default
// port when it has none.
func hostOf(addr string) string {
	u, _ := url.Parse(addr)
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return u.Host + ":443"
	}
	return u.Host + ":80"
}
