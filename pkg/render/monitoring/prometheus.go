package monitoring

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// The subset of Prometheus' configuration hstack writes. Field names are
// Prometheus' own (https://prometheus.io/docs/prometheus/latest/configuration/configuration/).
type promConfig struct {
	Global        promGlobal     `yaml:"global"`
	RuleFiles     []string       `yaml:"rule_files,omitempty"`
	Alerting      *promAlerting  `yaml:"alerting,omitempty"`
	ScrapeConfigs []scrapeConfig `yaml:"scrape_configs"`
}

type promGlobal struct {
	ScrapeInterval     string            `yaml:"scrape_interval"`
	ScrapeTimeout      string            `yaml:"scrape_timeout,omitempty"`
	EvaluationInterval string            `yaml:"evaluation_interval"`
	ExternalLabels     map[string]string `yaml:"external_labels,omitempty"`
}

type promAlerting struct {
	Alertmanagers []alertmanagerSet `yaml:"alertmanagers"`
}

type alertmanagerSet struct {
	APIVersion    string   `yaml:"api_version"`
	FileSDConfigs []fileSD `yaml:"file_sd_configs"`
}

type scrapeConfig struct {
	JobName       string              `yaml:"job_name"`
	Scheme        string              `yaml:"scheme,omitempty"`
	MetricsPath   string              `yaml:"metrics_path,omitempty"`
	Params        map[string][]string `yaml:"params,omitempty"`
	StaticConfigs []staticConfig      `yaml:"static_configs,omitempty"`
	FileSDConfigs []fileSD            `yaml:"file_sd_configs,omitempty"`
}

type staticConfig struct {
	Targets []string          `yaml:"targets,flow"`
	Labels  map[string]string `yaml:"labels,omitempty"`
}

type fileSD struct {
	Files []string `yaml:"files,flow"`
}

// Where the Prometheus task finds its files, relative to its task dir.
const (
	promConfigFile = "local/prometheus.yml"
	promRulesFile  = "local/rules/hstack.rules.yml"
	promTargetsDir = "local/targets"
)

// rulesGlob is relative to the configuration file, as Prometheus resolves it.
const rulesGlob = "rules/*.yml"

func (r *renderer) nomadAddr() string {
	if r.opts.NomadAddr != "" {
		return r.opts.NomadAddr
	}
	return "http://127.0.0.1:4646"
}

func (r *renderer) vaultAddr() string {
	if r.opts.VaultAddr != "" {
		return r.opts.VaultAddr
	}
	return "http://127.0.0.1:8200"
}

// consulAddr is the Consul agent to scrape, as scheme and host:port.
func (r *renderer) consulAddr() (scheme, host string) {
	a := r.opts.ConsulHTTPAddr
	switch {
	case a == "":
		return "http", "127.0.0.1:8500"
	case strings.Contains(a, "://"):
		return schemeOf(a, "http"), hostOf(a)
	}
	return "http", a
}

// Service discovery.
//
// Prometheus learns its targets from Consul's catalog, but not through
// consul_sd_configs: Debian builds Prometheus without Consul SD (its
// changelog: "Disable Consul SD until its Debian package is back in
// shape"), and the dev stack runs Debian's binary. Instead the Nomad
// client's template engine (consul-template) watches each Consul service
// and writes a file_sd target file, which Prometheus watches; the same
// mechanism in every environment, and one the tests can validate with
// Debian's promtool. Prometheus then needs no Consul address or ACL token
// of its own: the Nomad client's are used.
//
// discovery describes one target file.
type discovery struct {
	file    string // under promTargetsDir
	service string // Consul service
	tag     string // only instances with this tag; "" = all
	// port replaces the registered port (Consul's "consul" service is
	// registered on the server RPC port; its metrics are on HTTP).
	port int
	// app gives targets the labels of an app instance (appLabels);
	// otherwise service and node.
	app bool
}

// appLabels are what the rules and dashboards group app samples by: app
// (the Consul service), node, version (service meta "version"),
// canary="true" on canaries (Nomad's canary_tags) and alloc_id, parsed
// from the service ID Nomad registers (_nomad-task-<alloc id>-...). An
// empty value is no label at all, to Prometheus.
var appLabels = []string{
	`"app": {{ .Name | toJSON }}`,
	`"node": {{ .Node | toJSON }}`,
	`"version": {{ index .ServiceMeta "version" | toJSON }}`,
	`"canary": {{ if .Tags | contains "canary" }}"true"{{ else }}""{{ end }}`,
	`"alloc_id": {{ if .ID | regexMatch "^_nomad-task-[0-9a-f-]{36}-" }}{{ .ID | regexReplaceAll "^_nomad-task-([0-9a-f-]{36})-.*$" "$1" | toJSON }}{{ else }}""{{ end }}`,
}

var serviceLabels = []string{
	`"service": {{ .Name | toJSON }}`,
	`"node": {{ .Node | toJSON }}`,
}

// template is the target file as Nomad template data: a JSON list with one
// entry per instance, healthy or not ("|any"), so that a failing instance
// shows up as a failing target rather than vanishing. The structure is
// fixed here; every value from Consul goes through toJSON.
func (d discovery) template() string {
	query := d.service
	if d.tag != "" {
		query = d.tag + "." + query
	}
	addr := `printf "%s:%d" .Address .Port`
	if d.port != 0 {
		addr = fmt.Sprintf(`printf "%%s:%d" .Address`, d.port)
	}
	labels := serviceLabels
	if d.app {
		labels = appLabels
	}
	return "[{{ range $i, $s := service " + strconv.Quote(query+"|any") + " }}{{ if $i }},{{ end }}{{ with $s }}\n" +
		`  {"targets": [{{ ` + addr + ` | toJSON }}], "labels": {` + strings.Join(labels, ", ") + "}}" +
		"{{ end }}{{ end }}\n]\n"
}

func (d discovery) path() string { return promTargetsDir + "/" + d.file + ".json" }

// sd is the file_sd_configs entry reading d, relative to prometheus.yml.
func (d discovery) sd() []fileSD {
	return []fileSD{{Files: []string{strings.TrimPrefix(d.path(), "local/")}}}
}

// discoveries lists the target files of the stack, in a fixed order.
func (r *renderer) discoveries() []discovery {
	ds := []discovery{{file: Prometheus, service: Prometheus}}
	if r.m.Alertmanager.Enabled {
		ds = append(ds, discovery{file: Alertmanager, service: Alertmanager})
	}
	for _, a := range r.st.Apps {
		ds = append(ds, discovery{file: "app-" + a.Name, service: appService(a.Name), app: true})
	}
	if r.m.NodeExporter.Enabled {
		ds = append(ds, discovery{file: NodeExporter, service: NodeExporter})
	}
	if !r.local {
		// Servers register "nomad" and clients "nomad-client", each once
		// per port (http, rpc, serf); only the http one serves metrics.
		ds = append(ds,
			discovery{file: "nomad-servers", service: "nomad", tag: "http"},
			discovery{file: "nomad-clients", service: "nomad-client", tag: "http"},
			discovery{file: "vault", service: "vault"},
		)
		if r.opts.ConsulHTTPAddr == "" {
			ds = append(ds, discovery{file: "consul", service: "consul", port: 8500})
		}
	}
	return ds
}

func (r *renderer) discovery(file string) discovery {
	for _, d := range r.discoveries() {
		if d.file == file {
			return d
		}
	}
	panic("monitoring: no discovery " + file)
}

// prometheusConfig is prometheus.yml, as Nomad template data.
func (r *renderer) prometheusConfig() (string, error) {
	p := r.m.Prometheus
	interval := promDuration(p.ScrapeInterval)
	cfg := promConfig{
		Global: promGlobal{
			ScrapeInterval: interval,
			// Rules are evaluated as often as samples arrive: alerts react
			// no later than the data allows.
			EvaluationInterval: interval,
			ExternalLabels:     map[string]string{"stack": r.st.Name},
		},
		RuleFiles: []string{rulesGlob},
	}
	// Prometheus refuses a scrape_timeout above the interval, and its
	// default is 10s.
	if p.ScrapeInterval < 10*time.Second {
		cfg.Global.ScrapeTimeout = interval
	}
	if r.m.Alertmanager.Enabled {
		cfg.Alerting = &promAlerting{Alertmanagers: []alertmanagerSet{{
			APIVersion:    "v2",
			FileSDConfigs: r.discovery(Alertmanager).sd(),
		}}}
	}

	sc := []scrapeConfig{{JobName: Prometheus, FileSDConfigs: r.discovery(Prometheus).sd()}}
	if r.m.Alertmanager.Enabled {
		sc = append(sc, scrapeConfig{JobName: Alertmanager, FileSDConfigs: r.discovery(Alertmanager).sd()})
	}
	for _, a := range r.st.Apps {
		// One scrape job per app, named after it, so `up{job="<app>"}`
		// means what it says.
		sc = append(sc, scrapeConfig{
			JobName:       a.Name,
			MetricsPath:   "/metrics",
			FileSDConfigs: r.discovery("app-" + a.Name).sd(),
		})
	}
	sc = append(sc, r.nomadScrape(), r.consulScrape(), r.vaultScrape())
	if r.m.NodeExporter.Enabled {
		sc = append(sc, scrapeConfig{JobName: NodeExporter, FileSDConfigs: r.discovery(NodeExporter).sd()})
	}
	cfg.ScrapeConfigs = sc
	return (&tmplDoc{}).render(cfg)
}

// appService is the Consul service an app's instances register as.
func appService(app string) string { return app }

func telemetryScrape(job, path string) scrapeConfig {
	return scrapeConfig{JobName: job, MetricsPath: path, Params: map[string][]string{"format": {"prometheus"}}}
}

func staticTarget(hostport, service string) []staticConfig {
	return []staticConfig{{Targets: []string{hostport}, Labels: map[string]string{"service": service}}}
}

func (r *renderer) nomadScrape() scrapeConfig {
	sc := telemetryScrape("nomad", "/v1/metrics")
	if r.local {
		sc.Scheme = schemeOf(r.nomadAddr(), "http")
		sc.StaticConfigs = staticTarget(hostOf(r.nomadAddr()), "nomad")
		return sc
	}
	sc.Scheme = schemeOf(r.opts.NomadAddr, "https")
	sc.FileSDConfigs = append(r.discovery("nomad-servers").sd(), r.discovery("nomad-clients").sd()...)
	return sc
}

func (r *renderer) consulScrape() scrapeConfig {
	sc := telemetryScrape("consul", "/v1/agent/metrics")
	if r.local || r.opts.ConsulHTTPAddr != "" {
		scheme, host := r.consulAddr()
		if scheme != "http" {
			sc.Scheme = scheme
		}
		sc.StaticConfigs = staticTarget(host, "consul")
		return sc
	}
	sc.FileSDConfigs = r.discovery("consul").sd()
	return sc
}

// vaultScrape reads Vault's telemetry without a token: production Vault
// listeners set telemetry.unauthenticated_metrics_access. The dev stack's
// Vault does not, so locally the target is expected to be down and no
// rule alerts on it (see docs/monitoring.md).
func (r *renderer) vaultScrape() scrapeConfig {
	sc := telemetryScrape("vault", "/v1/sys/metrics")
	if r.local {
		sc.Scheme = schemeOf(r.vaultAddr(), "http")
		sc.StaticConfigs = staticTarget(hostOf(r.vaultAddr()), "vault")
		return sc
	}
	sc.Scheme = schemeOf(r.opts.VaultAddr, "https")
	sc.FileSDConfigs = r.discovery("vault").sd()
	return sc
}

func (r *renderer) prometheusJob() (*nomadapi.Job, error) {
	cfg, err := r.prometheusConfig()
	if err != nil {
		return nil, fmt.Errorf("monitoring: prometheus.yml: %w", err)
	}
	rules, err := r.rules()
	if err != nil {
		return nil, fmt.Errorf("monitoring: alert rules: %w", err)
	}
	rulesTmpl, err := rawTemplate(promRulesFile, rules)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--config.file=${NOMAD_TASK_DIR}/prometheus.yml",
		"--storage.tsdb.path=${NOMAD_ALLOC_DIR}/data/prometheus",
		"--storage.tsdb.retention.time=" + promDuration(r.m.Prometheus.Retention),
		"--web.listen-address=" + r.listenAddr("http"),
		// Lets an operator reload with POST /-/reload, like SIGHUP.
		"--web.enable-lifecycle",
	}
	task := &nomadapi.Task{
		Name:      Prometheus,
		Templates: append([]*nomadapi.Template{newTemplate(promConfigFile, cfg), rulesTmpl}, r.targetTemplates()...),
		// Long enough to write the head block out on shutdown.
		KillTimeout: new(30 * time.Second),
		// The target templates read Consul's catalog: under Consul ACLs
		// with the task's own token, which Nomad gives only to a task with
		// a consul block.
		Consul: &nomadapi.Consul{},
	}
	if r.local {
		task.Driver = "raw_exec"
		task.Config = rawExecConfig(r.binary("prometheus"), args)
		task.Resources = &nomadapi.Resources{CPU: new(200), MemoryMB: new(256), MemoryMaxMB: new(512)}
	} else {
		task.Driver = "docker"
		task.Config = dockerConfig(Images[Prometheus], args, "http")
		task.Resources = &nomadapi.Resources{CPU: new(500), MemoryMB: new(1024), MemoryMaxMB: new(2048)}
	}
	j := r.job(Prometheus, "service")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(Prometheus),
		Count:         new(1),
		Networks:      []*nomadapi.NetworkResource{r.network(Prometheus, "http")},
		Services:      []*nomadapi.Service{r.service(Prometheus, "http", "http", "/-/ready")},
		RestartPolicy: r.restart(),
		// The TSDB lives in the alloc dir; sticky and migrated, it
		// survives job updates and moves with the allocation.
		EphemeralDisk: &nomadapi.EphemeralDisk{Sticky: new(true), Migrate: new(true), SizeMB: new(r.diskMB(2048, 10240))},
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}

func (r *renderer) diskMB(local, prod int) int {
	if r.local {
		return local
	}
	return prod
}

// targetTemplates deliver the target files. Prometheus watches them, so a
// change needs no signal.
func (r *renderer) targetTemplates() []*nomadapi.Template {
	var ts []*nomadapi.Template
	for _, d := range r.discoveries() {
		t := newTemplate(d.path(), d.template())
		t.ChangeMode, t.ChangeSignal = new("noop"), nil
		ts = append(ts, t)
	}
	return ts
}
