package stackfile

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// validate checks the rules that relate several attributes or blocks, and
// fills in the defaults that depend on them. It runs only on a stack that
// decoded without errors.
func (d *decoder) validate(s *Stack) {
	if len(s.Apps) == 0 {
		d.errorf(s.DeclRange, "Missing app block", "A stack needs at least one app \"<name>\" { ... } block.")
	}
	for _, db := range s.Databases {
		d.validateDatabase(db)
	}
	d.validateRoleNames(s)
	for _, n := range s.Notifiers {
		d.validateNotifier(n)
	}
	for _, a := range s.Apps {
		d.validateApp(s, a)
	}
	if s.Ingress != nil {
		d.validateIngress(s, s.Ingress)
		d.dnsName(s.IngressName()+"-metrics", s.DeclRange, "the ingress's metrics service", "shorten the stack name")
	}
	if s.Monitoring != nil {
		d.validateMonitoring(s.Monitoring)
	}
}

// at returns the range of the first of names that was set, or fallback:
// a rule about two attributes points at whichever one was written.
func at(attrs Ranges, fallback hcl.Range, names ...string) hcl.Range {
	for _, n := range names {
		if r, ok := attrs[n]; ok {
			return r
		}
	}
	return fallback
}

func (d *decoder) validateDatabase(db *Database) {
	_, hasAddr := db.Attrs["address"]
	switch {
	case db.FromTerraform == nil && !hasAddr:
		d.errorf(db.DeclRange, "Missing database address",
			"Database %q needs either address (with optional port and name) or a from_terraform_output block that names the Terraform outputs holding its endpoints.", db.Name)
	case db.FromTerraform != nil:
		for _, attr := range []string{"address", "port"} {
			if r, ok := db.Attrs[attr]; ok {
				d.errorf(r, "Conflicting database address",
					"Database %q takes its endpoints from Terraform outputs (from_terraform_output at %s), so %s must not be set too. In an environment override, set it to null to remove the base's value.",
					db.Name, db.FromTerraform.DeclRange, attr)
			}
		}
	}
	// These values are written into the app's credentials template, where
	// Nomad would take {{ or }} for template actions.
	for _, f := range []struct{ attr, v string }{{"address", db.Address}, {"name", db.DatabaseName}, {"vault_mount", db.VaultMount}} {
		if strings.Contains(f.v, "{{") || strings.Contains(f.v, "}}") {
			d.errorf(at(db.Attrs, db.DeclRange, f.attr), "Invalid "+f.attr,
				"Database %q: %s %q contains {{ or }}, which the app's credentials template would read as a template action.", db.Name, f.attr, f.v)
		}
	}
	for _, r := range db.Roles {
		custom := r.Privilege == PrivilegeCustom
		for _, sql := range []struct {
			name  string
			stmts []string
		}{{"creation_sql", r.CreationSQL}, {"revocation_sql", r.RevocationSQL}} {
			switch {
			case custom && len(sql.stmts) == 0:
				d.errorf(at(r.Attrs, r.DeclRange, sql.name, "privilege"), "Missing "+sql.name,
					"Role %q has privilege = \"custom\", so it needs %s: the SQL statements Vault runs, with its {{name}}, {{password}} and {{expiration}} placeholders.", r.Name, sql.name)
			case !custom && len(sql.stmts) > 0:
				d.errorf(at(r.Attrs, r.DeclRange, sql.name), "Unexpected "+sql.name,
					"%s is only for privilege = \"custom\"; role %q has privilege %q, whose statements hstack generates. Remove it, or set privilege = \"custom\".", sql.name, r.Name, r.Privilege)
			}
		}
		if r.MaxTTL < r.DefaultTTL {
			d.errorf(at(r.Attrs, r.DeclRange, "max_ttl", "default_ttl"), "Invalid max_ttl",
				"max_ttl (%s) must not be shorter than default_ttl (%s): Vault would cut every lease short.", r.MaxTTL, r.DefaultTTL)
		}
	}
}

// validateRoleNames refuses two databases with a role of the same name on
// one vault_mount: Vault's roles are per mount, so one would overwrite the
// other.
func (d *decoder) validateRoleNames(s *Stack) {
	seen := map[string]*Role{}
	for _, db := range s.Databases {
		for _, r := range db.Roles {
			k := db.VaultMount + "\x00" + r.Name
			if prev, ok := seen[k]; ok {
				d.errorf(r.DeclRange, "Duplicate role on vault_mount",
					"Role %q is also declared at %s, on the same vault_mount %q: Vault would have one role for both. Rename one, or give this database another vault_mount.", r.Name, prev.DeclRange, db.VaultMount)
				continue
			}
			seen[k] = r
		}
	}
}

// dnsName checks a name hstack derives (a Consul service, a job) by the
// rule the stack's own names follow.
func (d *decoder) dnsName(name string, rng hcl.Range, what, fix string) {
	if !IsDNSLabel(name) {
		d.errorf(rng, "Invalid derived name",
			"The name %q of %s is not a DNS label (lowercase letters, digits and hyphens, at most 63 characters), so Consul could not serve it; %s.", name, what, fix)
	}
}

func (d *decoder) validateNotifier(n *Notifier) {
	vr, hasVault := n.Attrs["url_vault"]
	_, hasEnv := n.Attrs["url_env"]
	switch {
	case hasVault && hasEnv:
		d.errorf(vr, "Conflicting URL references", "Notifier %q sets both url_vault and url_env; set exactly one.", n.Name)
	case !hasVault && !hasEnv:
		d.errorf(n.DeclRange, "Missing URL reference",
			"Notifier %q needs its URL by reference: url_vault = \"secret/data/<path>#<key>\" or url_env = \"<ENV_VAR>\". URLs are never written inline because they carry credentials.", n.Name)
	}
}

func (d *decoder) validateApp(s *Stack, a *App) {
	switch {
	case a.Driver == DriverDocker && a.Image == "":
		d.errorf(at(a.Attrs, a.DeclRange, "driver"), "Missing image",
			"App %q runs with the docker driver, which needs image = \"<registry>/<name>:<tag>\". To run a binary directly, set driver = \"raw_exec\" and command.", a.Name)
	case a.Driver == DriverRawExec && a.Command == "":
		d.errorf(at(a.Attrs, a.DeclRange, "driver"), "Missing command",
			"App %q runs with the raw_exec driver, which needs command: the path of the binary to run on the Nomad client.", a.Name)
	}
	d.validateConfig(a)
	if len(a.Ports) == 0 {
		d.errorf(a.DeclRange, "Missing port block", "App %q needs at least one port \"<name>\" { to = <port> } block: the port it serves HTTP on.", a.Name)
	}
	if r := a.Resources; r.MemoryMax != 0 && r.MemoryMax < r.Memory {
		d.errorf(at(r.Attrs, a.DeclRange, "memory_max"), "Invalid memory_max",
			"memory_max (%d MB) must not be less than memory (%d MB).", r.MemoryMax, r.Memory)
	}
	if h := a.Health; h != nil {
		d.portRef(a, &h.Port, h.Attrs, h.DeclRange)
	}
	for _, k := range slices.Sorted(maps.Keys(a.Meta)) {
		if strings.HasPrefix(k, ReservedMetaPrefix) {
			d.errorf(at(a.Attrs, a.DeclRange, "meta"), "Reserved meta key",
				"App %q: meta key %q starts with %s, which is reserved for the keys hstack sets itself.", a.Name, k, ReservedMetaPrefix)
		}
	}
	for _, e := range []struct {
		name string
		set  bool
		why  string
	}{{DatabaseURLFileEnv, a.Database != nil, "a database"}, {ConfigFileEnv, len(a.Config) > 0, "config"}} {
		if _, ok := a.Env[e.name]; ok && e.set {
			d.errorf(at(a.Attrs, a.DeclRange, "env"), "Conflicting env",
				"App %q: env %s is set by hstack for apps with %s, pointing at the file it writes; remove it from env.", a.Name, e.name, e.why)
		}
	}
	if len(a.Ports) > 0 {
		d.dnsName(a.ServiceName(a.Ports[0].Name), a.Ports[0].DeclRange, fmt.Sprintf("app %q's Consul service", a.Name), "rename the app")
	}
	if ad := a.Database; ad != nil {
		db := s.Database(ad.Name)
		if db != nil && db.Role(ad.Role) != nil && ad.Role != a.Name {
			// The Vault policy for Nomad workloads lets job X read only
			// <mount>/creds/X, so any other role is refused at run time.
			d.errorf(at(ad.Attrs, ad.DeclRange, "role"), "Role not named after the app",
				"App %q uses role %q, but Vault lets a job read only %s/creds/<its job ID>: the role must be named %q. Rename the role in database %q.", a.Name, ad.Role, db.VaultMount, a.Name, db.Name)
		}
		switch {
		case db == nil:
			d.errorf(at(ad.Attrs, ad.DeclRange, "name"), "Reference to undeclared database",
				"App %q uses database %q, which is not declared.%s", a.Name, ad.Name, declared("database", names(s.Databases, func(x *Database) string { return x.Name })))
		case db.Role(ad.Role) == nil:
			d.errorf(at(ad.Attrs, ad.DeclRange, "role"), "Reference to undeclared role",
				"App %q uses role %q of database %q, which declares no such role.%s", a.Name, ad.Role, ad.Name, declared("role", names(db.Roles, func(x *Role) string { return x.Name })))
		}
	}
	if sc := a.Scaling; sc != nil {
		if sc.Min < 0 {
			sc.Min = a.Count
		}
		switch {
		case sc.Min > sc.Max:
			d.errorf(at(sc.Attrs, sc.DeclRange, "min", "max"), "Invalid scaling range",
				"min (%d) must not be greater than max (%d).", sc.Min, sc.Max)
		case a.Count < sc.Min || a.Count > sc.Max:
			d.errorf(at(a.Attrs, sc.DeclRange, "count"), "Count outside scaling range",
				"count (%d) must be between the scaling min (%d) and max (%d): Nomad rejects a job whose count the autoscaler could not have set.", a.Count, sc.Min, sc.Max)
		}
	}
	d.validateRollout(s, a, &a.Rollout)
}

// portRef defaults *port to the app's first port and checks that it names
// one of the app's ports.
func (d *decoder) portRef(a *App, port *string, attrs Ranges, fallback hcl.Range) {
	if *port == "" {
		if len(a.Ports) > 0 {
			*port = a.Ports[0].Name
		}
		return
	}
	if a.Port(*port) == nil {
		d.errorf(at(attrs, fallback, "port"), "Reference to undeclared port",
			"App %q has no port %q.%s", a.Name, *port, declared("port", names(a.Ports, func(x *Port) string { return x.Name })))
	}
}

func (d *decoder) validateRollout(s *Stack, a *App, r *Rollout) {
	_, canarySet := r.Attrs["canary"]
	countAt := "the default"
	if rng, ok := a.Attrs["count"]; ok {
		countAt = rng.String()
	}
	switch r.Strategy {
	case StrategyRolling:
		if canarySet && r.Canary > 0 {
			d.errorf(r.Attrs["canary"], "Canary without canary strategy",
				"A rolling rollout replaces instances in place and starts no canaries. Set strategy = \"canary\" (or \"blue-green\"), or remove canary.")
		}
		r.Canary = 0
		if r.LoadTest != nil {
			d.errorf(r.LoadTest.DeclRange, "Load test without canaries",
				"A load test feeds traffic to canaries while they are judged; a rolling rollout has none. Set strategy = \"canary\" or \"blue-green\", or remove load_test.")
		}
	case StrategyCanary:
		if !canarySet {
			r.Canary = 1
		}
		switch {
		case r.Canary == 0:
			d.errorf(r.Attrs["canary"], "Invalid canary count",
				"A canary rollout needs at least one canary; set canary to 1 or more, or use strategy = \"rolling\".")
		case r.Canary > a.Count:
			d.errorf(at(r.Attrs, r.DeclRange, "canary"), "Too many canaries",
				"canary (%d) must not exceed the app's count (%d, from %s): Nomad cannot start more canaries than instances.", r.Canary, a.Count, countAt)
		}
	case StrategyBlueGreen:
		if canarySet && r.Canary != a.Count {
			d.errorf(r.Attrs["canary"], "Invalid canary count",
				"A blue-green rollout starts a complete new set, so canary is always the app's count (%d, from %s); remove canary or set it to %d.", a.Count, countAt, a.Count)
		}
		r.Canary = a.Count
	}
	if len(r.Steps) > 0 && r.Strategy != StrategyCanary {
		d.errorf(r.Steps[0].DeclRange, "Steps without canary strategy",
			"Rollout steps scale canaries, so they need strategy = \"canary\"; this rollout's strategy is %q.", r.Strategy)
	}

	analyses := names(r.Analyses, func(x *Analysis) string { return x.Name })
	prev := r.Canary
	for _, st := range r.Steps {
		rng := at(st.Attrs, st.DeclRange, "canary")
		switch {
		case st.Canary > a.Count:
			d.errorf(rng, "Too many canaries",
				"This step asks for %d canaries but the app's count is %d (from %s).", st.Canary, a.Count, countAt)
		case st.Canary < prev:
			d.errorf(rng, "Decreasing canary steps",
				"This step's canary (%d) is lower than the one before it (%d): steps can only keep or grow the number of canaries.", st.Canary, prev)
		}
		prev = max(prev, st.Canary)
		for i, name := range st.Analysis {
			if r.Analysis(name) == nil && !isBuiltinAnalysis(name) {
				d.errorf(d.elemRangeOf(st.Attrs, "analysis", i, st.DeclRange), "Reference to undeclared analysis",
					"This step runs analysis %q, which the rollout does not declare and is not a built-in (%s).%s", name, strings.Join(BuiltinAnalyses, ", "), declared("analysis", analyses))
			}
		}
	}

	if r.MinHealthyTime >= r.HealthyDeadline {
		d.errorf(at(r.Attrs, r.DeclRange, "min_healthy_time", "healthy_deadline"), "Invalid min_healthy_time",
			"min_healthy_time (%s) must be shorter than healthy_deadline (%s): an instance has to stay healthy for min_healthy_time before the deadline.", r.MinHealthyTime, r.HealthyDeadline)
	}
	if r.ProgressDeadline <= r.HealthyDeadline {
		d.errorf(at(r.Attrs, r.DeclRange, "progress_deadline", "healthy_deadline"), "Invalid progress_deadline",
			"progress_deadline (%s) must be longer than healthy_deadline (%s), or a deployment fails before its instances could have become healthy.", r.ProgressDeadline, r.HealthyDeadline)
	}

	for _, an := range r.Analyses {
		switch {
		case an.Min == nil && an.Max == nil:
			d.errorf(an.DeclRange, "Missing success condition",
				"Analysis %q needs min, max or both: a measurement succeeds when the query result is >= min and <= max.", an.Name)
		case an.Min != nil && an.Max != nil && *an.Min > *an.Max:
			d.errorf(at(an.Attrs, an.DeclRange, "min"), "Invalid success range",
				"min (%g) is greater than max (%g), so no result could ever succeed.", *an.Min, *an.Max)
		}
		if an.FailureLimit >= an.Count {
			d.errorf(at(an.Attrs, an.DeclRange, "failure_limit", "count"), "Invalid failure_limit",
				"failure_limit (%d) must be less than count (%d), or the analysis could never fail.", an.FailureLimit, an.Count)
		}
	}
	for _, t := range r.SmokeTests {
		d.portRef(a, &t.Port, t.Attrs, t.DeclRange)
	}
	if lt := r.LoadTest; lt != nil && lt.URL == "" {
		d.portRef(a, &lt.Port, lt.Attrs, lt.DeclRange)
	}
	notifiers := names(s.Notifiers, func(x *Notifier) string { return x.Name })
	for i, n := range r.Notify {
		if s.Notifier(n) == nil {
			d.errorf(d.elemRangeOf(r.Attrs, "notify", i, r.DeclRange), "Reference to undeclared notifier",
				"The rollout notifies %q, which is not declared.%s", n, declared("notifier", notifiers))
		}
	}
}

// elemRangeOf narrows an attribute's range to element i when the
// attribute was a list literal. Only the expression's range is kept in the
// model, so the element is found again through the decoder's record.
func (d *decoder) elemRangeOf(attrs Ranges, name string, i int, fallback hcl.Range) hcl.Range {
	rng, ok := attrs[name]
	if !ok {
		return fallback
	}
	if elems, ok := d.listElems[rng]; ok && i < len(elems) {
		return elems[i]
	}
	return rng
}

func (d *decoder) validateIngress(s *Stack, in *Ingress) {
	if len(in.Routes) == 0 {
		d.errorf(in.DeclRange, "Missing route block", "An ingress needs at least one route \"<name>\" { app = \"<app>\" } block.")
	}
	apps := names(s.Apps, func(x *App) string { return x.Name })
	seen := map[string]*Route{}
	for _, r := range in.Routes {
		a := s.App(r.App)
		if a == nil {
			d.errorf(at(r.Attrs, r.DeclRange, "app"), "Reference to undeclared app",
				"Route %q sends traffic to app %q, which is not declared.%s", r.Name, r.App, declared("app", apps))
			continue
		}
		d.portRef(a, &r.Port, r.Attrs, r.DeclRange)
		if r.Port != "" && a.Port(r.Port) != nil {
			d.dnsName(a.ServiceName(r.Port), at(r.Attrs, r.DeclRange, "port"), fmt.Sprintf("app %q's Consul service for port %q", a.Name, r.Port), "rename the app or the port")
		}
		key := r.Host + "\x00" + r.PathPrefix
		if first, dup := seen[key]; dup {
			d.errorf(at(r.Attrs, r.DeclRange, "path_prefix", "host"), "Conflicting routes",
				"Route %q matches the same host and path prefix as route %q (%s), so one of them would never receive traffic.", r.Name, first.Name, first.DeclRange)
			continue
		}
		seen[key] = r
	}
}

func (d *decoder) validateMonitoring(m *Monitoring) {
	am := &m.Alertmanager
	receivers := names(am.Receivers, func(x *Receiver) string { return x.Name })
	for _, r := range am.Receivers {
		d.validateReceiver(r)
	}
	if !am.Enabled {
		return
	}
	switch {
	case len(am.Receivers) == 0:
		d.errorf(am.DeclRange, "Missing receiver block",
			"Alertmanager needs at least one receiver \"<name>\" block to send alerts to, or enabled = false.")
	case am.Route == nil && len(am.Receivers) == 1:
		am.Route = &AlertRoute{Receiver: am.Receivers[0].Name, GroupBy: []string{"alertname"},
			GroupWait: defaultGroupWait, GroupInterval: defaultGroupInterval, RepeatInterval: defaultRepeatInterval, DeclRange: am.DeclRange}
	case am.Route == nil:
		d.errorf(am.DeclRange, "Missing alertmanager route",
			"With several receivers, a route { receiver = \"<name>\" } block must say which one gets alerts.%s", declared("receiver", receivers))
	case !slices.Contains(receivers, am.Route.Receiver):
		d.errorf(at(am.Route.Attrs, am.Route.DeclRange, "receiver"), "Reference to undeclared receiver",
			"The route sends alerts to receiver %q, which is not declared.%s", am.Route.Receiver, declared("receiver", receivers))
	}
}

func (d *decoder) validateReceiver(r *Receiver) {
	want := map[ReceiverType]string{
		ReceiverSlack: "url_vault", ReceiverWebhook: "url_vault", ReceiverPagerDuty: "key_vault", ReceiverEmail: "to",
	}[r.Type]
	if _, ok := r.Attrs[want]; !ok {
		d.errorf(r.DeclRange, "Missing "+want,
			"A %s receiver needs %s.%s", r.Type, want, map[string]string{
				"url_vault": ` Its URL is a secret, so it is referenced in Vault: url_vault = "secret/data/<path>#<key>".`,
				"key_vault": ` The integration key is a secret, so it is referenced in Vault: key_vault = "secret/data/<path>#<key>".`,
				"to":        ` It is the recipient address.`,
			}[want])
	}
	for _, attr := range []string{"url_vault", "key_vault", "to", "channel"} {
		rng, ok := r.Attrs[attr]
		if !ok || attr == want || (attr == "channel" && r.Type == ReceiverSlack) {
			continue
		}
		d.errorf(rng, "Unsupported argument", "%s is not used by %s receivers; remove it.", attr, r.Type)
	}
}

func names[T any](xs []T, name func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = name(x)
	}
	return out
}

// declared lists the candidates for a broken reference.
func declared(kind string, candidates []string) string {
	if len(candidates) == 0 {
		return fmt.Sprintf(" No %s is declared.", kind)
	}
	q := make([]string, len(candidates))
	for i, c := range candidates {
		q[i] = fmt.Sprintf("%q", c)
	}
	return fmt.Sprintf(" Declared: %s.", strings.Join(q, ", "))
}

// BuiltinAnalyses are the analyses a step may name without declaring them;
// pkg/analysis defines their queries (and a test there keeps the two lists
// equal: this package cannot import that one).
var BuiltinAnalyses = []string{"latency-p99", "success-rate"}

func isBuiltinAnalysis(name string) bool {
	return slices.Contains(BuiltinAnalyses, name)
}
