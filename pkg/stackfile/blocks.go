package stackfile

import (
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Schemas of every block. Decoding (this file) checks each attribute on
// its own: type, enum, range, duration syntax and sign, required-ness.
// Rules that relate several attributes or blocks live in validate.go and
// run only once decoding succeeded, so a broken value never causes a
// second, confusing error there.
var (
	fileSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{
		labelled("variable"),
		labelled("stack"),
		labelled("database"),
		labelled("app"),
		labelled("notifier"),
		single("ingress"),
		single("monitoring"),
		labelled("environment"),
	}}

	stackSchema = blockSchema([]string{"region", "datacenters", "namespace"})

	databaseSchema = blockSchema([]string{"address", "port", "name", "vault_mount"},
		single("from_terraform_output"), labelled("role"))
	terraformOutputSchema = blockSchema([]string{"dir", "writer", "reader", "port"})
	roleSchema            = blockSchema([]string{"privilege", "creation_sql", "revocation_sql", "default_ttl", "max_ttl"})

	appSchema = blockSchema([]string{
		"driver", "image", "command", "args", "count", "env", "tags", "meta", "config",
		"spread_across_zones", "distinct_hosts", "shutdown_delay", "kill_timeout",
	},
		labelled("port"), single("resources"), single("health"), single("database"),
		single("scaling"), single("rollout"))
	portSchema        = blockSchema([]string{"to"})
	resourcesSchema   = blockSchema([]string{"cpu", "memory", "memory_max"})
	healthSchema      = blockSchema([]string{"type", "path", "port", "interval", "timeout"})
	appDatabaseSchema = blockSchema([]string{"name", "role"})
	scalingSchema     = blockSchema([]string{"min", "max", "query", "target", "evaluation_interval", "cooldown"})
	rolloutSchema     = blockSchema([]string{
		"strategy", "max_parallel", "canary", "min_healthy_time", "healthy_deadline",
		"progress_deadline", "auto_revert", "auto_promote", "notify",
	}, single("step"), labelled("analysis"), labelled("smoke_test"), single("load_test"))
	stepSchema      = blockSchema([]string{"canary", "pause", "analysis"})
	analysisSchema  = blockSchema([]string{"query", "interval", "count", "min", "max", "failure_limit", "inconclusive_limit"})
	smokeTestSchema = blockSchema([]string{"path", "port", "expect_status", "expect_body", "timeout"})
	loadTestSchema  = blockSchema([]string{"url", "path", "port", "rate", "expect_status", "expect_body", "timeout"})

	notifierSchema = blockSchema([]string{"type", "url_vault", "url_env"})

	ingressSchema = blockSchema([]string{"port"}, labelled("route"))
	routeSchema   = blockSchema([]string{"app", "port", "host", "path_prefix"})

	monitoringSchema = blockSchema(nil,
		single("prometheus"), single("alertmanager"), single("grafana"), single("node_exporter"), single("logs"))
	prometheusSchema   = blockSchema([]string{"enabled", "retention", "scrape_interval"})
	alertmanagerSchema = blockSchema([]string{"enabled"}, labelled("receiver"), single("route"))
	receiverSchema     = blockSchema([]string{"type", "url_vault", "key_vault", "to", "channel"})
	alertRouteSchema   = blockSchema([]string{"receiver", "group_by", "group_wait", "group_interval", "repeat_interval"})
	enabledSchema      = blockSchema([]string{"enabled"})
	logsSchema         = blockSchema([]string{"enabled", "backend"})
)

const maxPort = 65535

// Alertmanager's own route defaults, also used for the route hstack
// fills in when there is a single receiver.
const (
	defaultGroupWait      = 30 * time.Second
	defaultGroupInterval  = 5 * time.Minute
	defaultRepeatInterval = 4 * time.Hour
)

func (d *decoder) stack(blk *hcl.Block, s *Stack) {
	b := d.open("stack", blk, blk.DefRange, stackSchema)
	d.checkLabel(blk, dnsLabel)
	s.Name, s.DeclRange = blk.Labels[0], blk.DefRange
	s.Region, s.Datacenters, s.Namespace = "global", []string{"dc1"}, "default"
	b.str("region", &s.Region)
	if b.strs("datacenters", &s.Datacenters) && len(s.Datacenters) == 0 {
		b.fail("datacenters", b.attrs["datacenters"], "Invalid datacenters", "datacenters must name at least one Nomad datacenter.")
	}
	b.str("namespace", &s.Namespace)
}

func (d *decoder) database(blk *hcl.Block) *Database {
	b := d.open("database", blk, blk.DefRange, databaseSchema)
	d.checkLabel(blk, plainName)
	db := &Database{Name: blk.Labels[0], DatabaseName: "postgres", VaultMount: "database", DeclRange: blk.DefRange}
	b.str("address", &db.Address)
	b.int("port", &db.Port, 1, maxPort, "Invalid port number")
	b.str("name", &db.DatabaseName)
	b.str("vault_mount", &db.VaultMount)
	db.VaultMount = strings.Trim(db.VaultMount, "/")
	if tb := b.block("from_terraform_output"); tb != nil {
		tf := d.open("from_terraform_output", tb, tb.DefRange, terraformOutputSchema)
		db.FromTerraform = &TerraformOutputs{DeclRange: tb.DefRange}
		tf.str("dir", &db.FromTerraform.Dir)
		tf.str("writer", &db.FromTerraform.Writer)
		tf.str("reader", &db.FromTerraform.Reader)
		tf.str("port", &db.FromTerraform.Port)
		tf.need("dir", "writer")
		db.FromTerraform.Attrs = tf.ranges
	}
	if db.FromTerraform == nil && !b.has("port") {
		db.Port = 5432
	}
	for _, rb := range b.blocksOf("role") {
		db.Roles = append(db.Roles, d.role(rb))
	}
	db.Attrs = b.ranges
	return db
}

func (d *decoder) role(blk *hcl.Block) *Role {
	b := d.open("role", blk, blk.DefRange, roleSchema)
	d.checkLabel(blk, plainName)
	r := &Role{Name: blk.Labels[0], DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour, DeclRange: blk.DefRange}
	b.enum("privilege", (*string)(&r.Privilege), "readonly", "readwrite", "owner", "custom")
	b.need("privilege")
	b.strs("creation_sql", &r.CreationSQL)
	b.strs("revocation_sql", &r.RevocationSQL)
	b.duration("default_ttl", &r.DefaultTTL, positive)
	b.duration("max_ttl", &r.MaxTTL, positive)
	r.Attrs = b.ranges
	return r
}

func (d *decoder) app(blk *hcl.Block) *App {
	b := d.open("app", blk, blk.DefRange, appSchema)
	d.checkLabel(blk, dnsLabel)
	a := &App{
		Name: blk.Labels[0], Driver: DriverDocker, Count: 1,
		Env: map[string]string{}, Meta: map[string]string{}, Config: map[string]string{},
		ShutdownDelay: 5 * time.Second, KillTimeout: 15 * time.Second,
		DeclRange: blk.DefRange,
	}
	b.enum("driver", (*string)(&a.Driver), "docker", "raw_exec")
	b.str("image", &a.Image)
	b.str("command", &a.Command)
	b.strs("args", &a.Args)
	b.int("count", &a.Count, 0, unbounded, "")
	b.strMap("env", &a.Env)
	b.strs("tags", &a.Tags)
	b.strMap("meta", &a.Meta)
	b.strMap("config", &a.Config)
	b.bool("spread_across_zones", &a.SpreadAcrossZones)
	b.bool("distinct_hosts", &a.DistinctHosts)
	b.duration("shutdown_delay", &a.ShutdownDelay, nonNegative)
	b.duration("kill_timeout", &a.KillTimeout, positive)
	for _, pb := range b.blocksOf("port") {
		pd := d.open("port", pb, pb.DefRange, portSchema)
		d.checkLabel(pb, portLabel)
		p := &Port{Name: pb.Labels[0], DeclRange: pb.DefRange}
		pd.int("to", &p.To, 1, maxPort, "Invalid port number")
		a.Ports = append(a.Ports, p)
	}
	a.Resources = d.resources(b.block("resources"), blk.DefRange)
	if hb := b.block("health"); hb != nil {
		a.Health = d.health(hb)
	}
	if db := b.block("database"); db != nil {
		ad := d.open("database", db, db.DefRange, appDatabaseSchema)
		a.Database = &AppDatabase{DeclRange: db.DefRange}
		ad.str("name", &a.Database.Name)
		ad.str("role", &a.Database.Role)
		ad.need("name", "role")
		a.Database.Attrs = ad.ranges
	}
	if sb := b.block("scaling"); sb != nil {
		a.Scaling = d.scaling(sb)
	}
	a.Rollout = d.rollout(b.block("rollout"), blk.DefRange)
	a.Attrs = b.ranges
	if a.Driver == DriverRawExec {
		a.Image = ""
	}
	return a
}

func (d *decoder) resources(blk *hcl.Block, fallback hcl.Range) Resources {
	b := d.open("resources", blk, fallback, resourcesSchema)
	r := Resources{CPU: 100, Memory: 128}
	b.int("cpu", &r.CPU, 1, unbounded, "")
	b.int("memory", &r.Memory, 10, unbounded, "")
	b.int("memory_max", &r.MemoryMax, 10, unbounded, "")
	r.Attrs = b.ranges
	return r
}

func (d *decoder) health(blk *hcl.Block) *Health {
	b := d.open("health", blk, blk.DefRange, healthSchema)
	h := &Health{Type: HealthHTTP, Path: "/", Interval: 10 * time.Second, Timeout: 2 * time.Second, DeclRange: blk.DefRange}
	b.enum("type", (*string)(&h.Type), "http", "tcp")
	b.urlPath("path", &h.Path)
	b.str("port", &h.Port)
	b.duration("interval", &h.Interval, positive)
	b.duration("timeout", &h.Timeout, positive)
	if h.Type == HealthTCP {
		h.Path = ""
	}
	h.Attrs = b.ranges
	return h
}

// urlPath decodes an HTTP path, which must be absolute.
func (b *body) urlPath(name string, dst *string) bool {
	var s string
	if !b.str(name, &s) {
		return false
	}
	if !strings.HasPrefix(s, "/") {
		b.fail(name, b.attrs[name], "Invalid path", "%s must start with \"/\"; got %q.", name, s)
		return false
	}
	*dst = s
	return true
}

func (d *decoder) scaling(blk *hcl.Block) *Scaling {
	b := d.open("scaling", blk, blk.DefRange, scalingSchema)
	s := &Scaling{Min: -1, EvaluationInterval: 10 * time.Second, Cooldown: time.Minute, DeclRange: blk.DefRange}
	b.int("min", &s.Min, 0, unbounded, "")
	b.int("max", &s.Max, 1, unbounded, "")
	b.str("query", &s.Query)
	var target *float64
	b.float("target", &target)
	if target != nil {
		if *target <= 0 {
			b.fail("target", b.attrs["target"], "Invalid target", "target must be greater than zero; got %g.", *target)
		} else {
			s.Target = *target
		}
	}
	b.duration("evaluation_interval", &s.EvaluationInterval, positive)
	b.duration("cooldown", &s.Cooldown, nonNegative)
	b.need("max", "query", "target")
	s.Attrs = b.ranges
	return s
}

func (d *decoder) rollout(blk *hcl.Block, fallback hcl.Range) Rollout {
	b := d.open("rollout", blk, fallback, rolloutSchema)
	r := Rollout{
		Strategy: StrategyRolling, MaxParallel: 1,
		MinHealthyTime: 10 * time.Second, HealthyDeadline: 5 * time.Minute, ProgressDeadline: 10 * time.Minute,
		AutoRevert: true, DeclRange: b.def,
	}
	b.enum("strategy", (*string)(&r.Strategy), "rolling", "canary", "blue-green")
	b.int("max_parallel", &r.MaxParallel, 1, unbounded, "")
	b.int("canary", &r.Canary, 0, unbounded, "")
	b.duration("min_healthy_time", &r.MinHealthyTime, nonNegative)
	b.duration("healthy_deadline", &r.HealthyDeadline, positive)
	b.duration("progress_deadline", &r.ProgressDeadline, positive)
	b.bool("auto_revert", &r.AutoRevert)
	b.bool("auto_promote", &r.AutoPromote)
	b.strs("notify", &r.Notify)
	for _, sb := range b.blocksOf("step") {
		sd := d.open("step", sb, sb.DefRange, stepSchema)
		st := &Step{DeclRange: sb.DefRange}
		sd.int("canary", &st.Canary, 1, unbounded, "Invalid canary count")
		sd.duration("pause", &st.Pause, nonNegative)
		sd.strs("analysis", &st.Analysis)
		sd.need("canary")
		st.Attrs = sd.ranges
		r.Steps = append(r.Steps, st)
	}
	for _, ab := range b.blocksOf("analysis") {
		r.Analyses = append(r.Analyses, d.analysis(ab))
	}
	for _, tb := range b.blocksOf("smoke_test") {
		r.SmokeTests = append(r.SmokeTests, d.smokeTest(tb))
	}
	if lb := b.block("load_test"); lb != nil {
		r.LoadTest = d.loadTest(lb)
	}
	r.Attrs = b.ranges
	return r
}

func (d *decoder) analysis(blk *hcl.Block) *Analysis {
	b := d.open("analysis", blk, blk.DefRange, analysisSchema)
	d.checkLabel(blk, plainName)
	a := &Analysis{Name: blk.Labels[0], Interval: time.Minute, Count: 1, DeclRange: blk.DefRange}
	b.str("query", &a.Query)
	b.duration("interval", &a.Interval, positive)
	b.int("count", &a.Count, 1, unbounded, "")
	b.float("min", &a.Min)
	b.float("max", &a.Max)
	b.int("failure_limit", &a.FailureLimit, 0, unbounded, "")
	b.int("inconclusive_limit", &a.InconclusiveLimit, 0, unbounded, "")
	b.need("query")
	if strings.TrimSpace(a.Query) == "" && b.has("query") {
		b.fail("query", b.attrs["query"], "Empty query", "The analysis query must be a PromQL expression.")
	}
	a.Attrs = b.ranges
	return a
}

func (d *decoder) smokeTest(blk *hcl.Block) *SmokeTest {
	b := d.open("smoke_test", blk, blk.DefRange, smokeTestSchema)
	d.checkLabel(blk, plainName)
	t := &SmokeTest{Name: blk.Labels[0], ExpectStatus: 200, Timeout: 5 * time.Second, DeclRange: blk.DefRange}
	b.urlPath("path", &t.Path)
	b.str("port", &t.Port)
	b.int("expect_status", &t.ExpectStatus, 100, 599, "Invalid HTTP status")
	b.str("expect_body", &t.ExpectBody)
	b.duration("timeout", &t.Timeout, positive)
	b.need("path")
	t.Attrs = b.ranges
	return t
}

func (d *decoder) loadTest(blk *hcl.Block) *LoadTest {
	b := d.open("load_test", blk, blk.DefRange, loadTestSchema)
	t := &LoadTest{Path: "/", Rate: 10, Timeout: 5 * time.Second, DeclRange: blk.DefRange}
	b.urlPath("path", &t.Path)
	b.str("port", &t.Port)
	b.int("rate", &t.Rate, 1, 10000, "Invalid rate")
	b.int("expect_status", &t.ExpectStatus, 100, 599, "Invalid HTTP status")
	b.str("expect_body", &t.ExpectBody)
	b.duration("timeout", &t.Timeout, positive)
	if b.str("url", &t.URL) {
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			b.fail("url", b.attrs["url"], "Invalid URL", "url must be an absolute http or https URL such as \"http://127.0.0.1:8080/ping\"; got %q.", t.URL)
		}
		for _, other := range []string{"path", "port"} {
			if b.has(other) {
				b.fail(other, b.attrs[other], "Conflicting load_test target",
					"A load test requests either url (for example through the ingress) or path on each canary directly, not both: remove %s or url.", other)
			}
		}
	}
	t.Attrs = b.ranges
	return t
}

func (d *decoder) notifier(blk *hcl.Block) *Notifier {
	b := d.open("notifier", blk, blk.DefRange, notifierSchema)
	d.checkLabel(blk, plainName)
	n := &Notifier{Name: blk.Labels[0], DeclRange: blk.DefRange}
	b.enum("type", (*string)(&n.Type), "webhook", "slack")
	b.need("type")
	if ref := b.vaultSecret("url_vault"); ref != nil {
		n.URL = *ref
	}
	if ref := b.envSecret("url_env"); ref != nil {
		n.URL = *ref
	}
	n.Attrs = b.ranges
	return n
}

func (d *decoder) ingress(blk *hcl.Block) *Ingress {
	b := d.open("ingress", blk, blk.DefRange, ingressSchema)
	in := &Ingress{Port: 8080, DeclRange: blk.DefRange}
	b.int("port", &in.Port, 1, maxPort, "Invalid port number")
	for _, rb := range b.blocksOf("route") {
		rd := d.open("route", rb, rb.DefRange, routeSchema)
		d.checkLabel(rb, plainName)
		r := &Route{Name: rb.Labels[0], PathPrefix: "/", DeclRange: rb.DefRange}
		rd.str("app", &r.App)
		rd.str("port", &r.Port)
		rd.str("host", &r.Host)
		rd.urlPath("path_prefix", &r.PathPrefix)
		rd.need("app")
		r.Attrs = rd.ranges
		in.Routes = append(in.Routes, r)
	}
	in.Attrs = b.ranges
	return in
}

func (d *decoder) monitoring(blk *hcl.Block) *Monitoring {
	b := d.open("monitoring", blk, blk.DefRange, monitoringSchema)
	m := &Monitoring{DeclRange: blk.DefRange}

	m.Prometheus = Prometheus{Retention: 15 * 24 * time.Hour, ScrapeInterval: 15 * time.Second}
	if pb := b.block("prometheus"); pb != nil {
		p := d.open("prometheus", pb, pb.DefRange, prometheusSchema)
		m.Prometheus.Enabled = true
		p.bool("enabled", &m.Prometheus.Enabled)
		p.duration("retention", &m.Prometheus.Retention, positive)
		p.duration("scrape_interval", &m.Prometheus.ScrapeInterval, positive)
		m.Prometheus.Attrs = p.ranges
	}

	if ab := b.block("alertmanager"); ab != nil {
		a := d.open("alertmanager", ab, ab.DefRange, alertmanagerSchema)
		m.Alertmanager.Enabled, m.Alertmanager.DeclRange = true, ab.DefRange
		a.bool("enabled", &m.Alertmanager.Enabled)
		for _, rb := range a.blocksOf("receiver") {
			m.Alertmanager.Receivers = append(m.Alertmanager.Receivers, d.receiver(rb))
		}
		if rb := a.block("route"); rb != nil {
			rd := d.open("route", rb, rb.DefRange, alertRouteSchema)
			rt := &AlertRoute{GroupBy: []string{"alertname"}, GroupWait: defaultGroupWait, GroupInterval: defaultGroupInterval, RepeatInterval: defaultRepeatInterval, DeclRange: rb.DefRange}
			rd.str("receiver", &rt.Receiver)
			rd.strs("group_by", &rt.GroupBy)
			rd.duration("group_wait", &rt.GroupWait, nonNegative)
			rd.duration("group_interval", &rt.GroupInterval, positive)
			rd.duration("repeat_interval", &rt.RepeatInterval, positive)
			rd.need("receiver")
			rt.Attrs = rd.ranges
			m.Alertmanager.Route = rt
		}
		m.Alertmanager.Attrs = a.ranges
	}

	for _, c := range []struct {
		typ     string
		enabled *bool
		attrs   *Ranges
	}{
		{"grafana", &m.Grafana.Enabled, &m.Grafana.Attrs},
		{"node_exporter", &m.NodeExporter.Enabled, &m.NodeExporter.Attrs},
	} {
		if cb := b.block(c.typ); cb != nil {
			cd := d.open(c.typ, cb, cb.DefRange, enabledSchema)
			*c.enabled = true
			cd.bool("enabled", c.enabled)
			*c.attrs = cd.ranges
		}
	}

	m.Logs.Backend = LogsLoki
	if lb := b.block("logs"); lb != nil {
		l := d.open("logs", lb, lb.DefRange, logsSchema)
		m.Logs.Enabled = true
		l.bool("enabled", &m.Logs.Enabled)
		l.enum("backend", (*string)(&m.Logs.Backend), "loki", "vector")
		m.Logs.Attrs = l.ranges
	}
	return m
}

func (d *decoder) receiver(blk *hcl.Block) *Receiver {
	b := d.open("receiver", blk, blk.DefRange, receiverSchema)
	d.checkLabel(blk, plainName)
	r := &Receiver{Name: blk.Labels[0], DeclRange: blk.DefRange}
	b.enum("type", (*string)(&r.Type), "slack", "pagerduty", "email", "webhook")
	b.need("type")
	r.URL = b.vaultSecret("url_vault")
	r.Key = b.vaultSecret("key_vault")
	b.str("to", &r.To)
	b.str("channel", &r.Channel)
	r.Attrs = b.ranges
	return r
}
