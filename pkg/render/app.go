package render

import (
	"fmt"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/jobhcl"
	"github.com/hstack-dev/hstack/pkg/jobmeta"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/version"
)

// Meta keys hstack sets. The version and commit keys are shared with the
// app's own meta (an app may set them itself); the hstack_ ones are
// reserved.
const (
	metaVersion       = jobmeta.Version
	metaCommit        = jobmeta.Commit
	metaCanary        = jobmeta.Canary
	metaHstackVersion = jobmeta.HstackVersion
	metaStack         = jobmeta.Stack
	metaStrategy      = jobmeta.Strategy
)

// Docker tasks run as nobody: nothing in a web app needs root, and the
// credentials file is chowned to this user so the app can read it.
const (
	nobodyID   = 65534
	dockerUser = "65534:65534"
)

// DatabaseConnFile is where an app finds its PostgreSQL connection string,
// relative to the task's secrets directory; DATABASE_URL_FILE points at it.
const DatabaseConnFile = "database.conn"

func hstackVersion() string { return version.Get().Version }

// appJob renders one app as a service job with one group and one task, all
// named after the app.
func appJob(st *stackfile.Stack, app *stackfile.App, opts Options) (*nomadapi.Job, error) {
	ver, commit := appVersion(app, opts), appCommit(app, opts)
	r := app.Rollout

	jobMeta := cloneMap(app.Meta)
	maps.Copy(jobMeta, stackMeta(st))
	jobMeta[metaStrategy] = string(r.Strategy)
	// The config version in job meta is what lets sync keep the KV keys
	// of every job version a rollback can return to.
	setNonEmpty(jobMeta, appconfig.MetaKey, appconfig.Checksum(app.Config))
	svcMeta := cloneMap(app.Meta)
	setNonEmpty(jobMeta, metaVersion, ver)
	setNonEmpty(jobMeta, metaCommit, commit)
	setNonEmpty(svcMeta, metaVersion, ver)
	setNonEmpty(svcMeta, metaCommit, commit)

	services, err := appServices(st, app, svcMeta)
	if err != nil {
		return nil, err
	}
	task, err := appTask(st, app)
	if err != nil {
		return nil, err
	}

	tg := &nomadapi.TaskGroup{
		Name:  ptr(app.Name),
		Count: ptr(app.Count),
		// The group's services are deregistered first; the tasks get
		// their stop signal shutdown_delay later, once the ingress has
		// stopped sending them requests.
		ShutdownDelay: ptr(app.ShutdownDelay),
		Networks:      []*nomadapi.NetworkResource{appNetwork(app)},
		Services:      services,
		Update:        updateStrategy(app),
		RestartPolicy: &nomadapi.RestartPolicy{
			Attempts: ptr(3),
			Interval: ptr(5 * time.Minute),
			Delay:    ptr(10 * time.Second),
			// Then the allocation fails and the reschedule policy moves
			// it, possibly to a healthier node.
			Mode: ptr("fail"),
		},
		ReschedulePolicy: &nomadapi.ReschedulePolicy{
			Delay:         ptr(30 * time.Second),
			DelayFunction: ptr("exponential"),
			MaxDelay:      ptr(10 * time.Minute),
			Unlimited:     ptr(true),
		},
		Scaling: scalingPolicy(app),
		Tasks:   []*nomadapi.Task{task},
	}
	if app.DistinctHosts {
		tg.Constraints = append(tg.Constraints, &nomadapi.Constraint{Operand: "distinct_hosts", RTarget: "true"})
	}
	// The same spread everywhere: every client carries its zone in node
	// meta (scripts/provision), so a loopback or Vagrant cluster spreads as
	// AWS does, and the single dev node, in one zone, places as without it.
	if app.SpreadAcrossZones {
		tg.Spreads = append(tg.Spreads, &nomadapi.Spread{Attribute: ZoneAttribute, Weight: ptr(int8(100))})
	}

	return &nomadapi.Job{
		ID:          ptr(app.Name),
		Name:        ptr(app.Name),
		Type:        ptr(nomadapi.JobTypeService),
		Region:      ptr(st.Region),
		Namespace:   ptr(st.Namespace),
		Datacenters: append([]string(nil), st.Datacenters...),
		Meta:        jobMeta,
		TaskGroups:  []*nomadapi.TaskGroup{tg},
	}, nil
}

// ZoneAttribute is the node attribute spread_across_zones spreads over: the
// zone scripts/provision's client.sh writes into every client's node meta
// (--zone, or on AWS the instance's availability zone from IMDS at boot).
// Not Nomad's ${attr.platform.aws.placement.availability-zone}: that exists
// on AWS only, and not at all where the env_aws fingerprinter is denied.
const ZoneAttribute = "${meta.zone}"

// appVersion is the version canaries are told apart by: the app's own
// meta.version, else the release version, else the image tag.
func appVersion(app *stackfile.App, opts Options) string {
	if v := app.Meta[metaVersion]; v != "" {
		return v
	}
	if opts.Version != "" {
		return opts.Version
	}
	return imageTag(app.Image)
}

func appCommit(app *stackfile.App, opts Options) string {
	if c := app.Meta[metaCommit]; c != "" {
		return c
	}
	return opts.Commit
}

// imageTag returns the tag of a Docker image reference, "" when it has
// none or is pinned by digest only.
func imageTag(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	slash := strings.LastIndex(image, "/")
	if colon := strings.LastIndex(image, ":"); colon > slash {
		return image[colon+1:]
	}
	return ""
}

// cloneMap never returns nil, unlike maps.Clone, so the copy can be
// written to.
func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+4)
	maps.Copy(out, m)
	return out
}

func setNonEmpty(m map[string]string, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func appNetwork(app *stackfile.App) *nomadapi.NetworkResource {
	n := &nomadapi.NetworkResource{}
	for _, p := range app.Ports {
		port := nomadapi.Port{Label: p.Name}
		// raw_exec shares the host's network: the app must listen on the
		// allocated port itself, and a `to` would only make NOMAD_PORT_x
		// lie about it.
		if app.Driver == stackfile.DriverDocker {
			port.To = p.To
		}
		n.DynamicPorts = append(n.DynamicPorts, port)
	}
	return n
}

// ServiceName is the Consul service of app's port: the app's name for its
// first port (the one the health check and most routes use), and
// "<app>-<port>" for another port a route sends traffic to.
func ServiceName(app *stackfile.App, port string) string { return app.ServiceName(port) }

func appServices(st *stackfile.Stack, app *stackfile.App, meta map[string]string) ([]*nomadapi.Service, error) {
	ports := []string{app.Ports[0].Name}
	if st.Ingress != nil {
		for _, rt := range st.Ingress.Routes {
			if rt.App == app.Name && rt.Port != "" && !slices.Contains(ports, rt.Port) {
				ports = append(ports, rt.Port)
			}
		}
	}
	var checks []nomadapi.ServiceCheck
	if h := app.Health; h != nil {
		c := nomadapi.ServiceCheck{
			Name:      app.Name + " health",
			Type:      string(h.Type),
			PortLabel: h.Port,
			Interval:  h.Interval,
			Timeout:   h.Timeout,
		}
		if h.Type == stackfile.HealthHTTP {
			c.Path = h.Path
		}
		checks = append(checks, c)
	}
	canaries := app.Rollout.Canary > 0
	var out []*nomadapi.Service
	for _, port := range ports {
		name := ServiceName(app, port)
		svc := &nomadapi.Service{
			Name:      name,
			Provider:  "consul",
			PortLabel: port,
			Tags:      append([]string(nil), app.Tags...),
			Meta:      cloneMap(meta),
			// Every service of the app carries the app's check, so traffic
			// to any of its ports stops when the app is unhealthy.
			Checks: append([]nomadapi.ServiceCheck(nil), checks...),
		}
		if canaries {
			// Nomad registers canaries with canary_tags and canary_meta
			// instead of tags and meta, not in addition to them.
			svc.CanaryTags = append(append([]string(nil), app.Tags...), metaCanary)
			svc.CanaryMeta = cloneMap(meta)
			svc.CanaryMeta[metaCanary] = "true"
		}
		out = append(out, svc)
	}
	return out, nil
}

// updateStrategy maps a rollout onto Nomad's update block. Nomad runs the
// canaries and waits for their checks; the rollout's steps, analyses and
// smoke tests are hstack's to run, which is why Nomad only promotes by
// itself when there is nothing for hstack to check first.
func updateStrategy(app *stackfile.App) *nomadapi.UpdateStrategy {
	r := app.Rollout
	u := &nomadapi.UpdateStrategy{
		MaxParallel:      ptr(r.MaxParallel),
		HealthCheck:      ptr("checks"),
		MinHealthyTime:   ptr(r.MinHealthyTime),
		HealthyDeadline:  ptr(r.HealthyDeadline),
		ProgressDeadline: ptr(r.ProgressDeadline),
		AutoRevert:       ptr(r.AutoRevert),
		AutoPromote:      ptr(false),
		Canary:           ptr(0),
	}
	if app.Health == nil {
		// Without a check, "checks" would call an instance healthy the
		// moment its task starts anyway; say so honestly.
		u.HealthCheck = ptr("task_states")
	}
	switch r.Strategy {
	case stackfile.StrategyCanary:
		u.Canary = ptr(r.Canary)
	case stackfile.StrategyBlueGreen:
		// Green is a full copy of blue; on promotion all of blue goes at
		// once.
		u.Canary = ptr(app.Count)
		u.MaxParallel = ptr(max(app.Count, 1))
	}
	if *u.Canary > 0 {
		u.AutoPromote = ptr(r.NomadPromotes())
	}
	return u
}

// scalingPolicy is a Nomad Autoscaler policy: keep the per-instance value
// of the query at the target.
func scalingPolicy(app *stackfile.App) *nomadapi.ScalingPolicy {
	s := app.Scaling
	if s == nil {
		return nil
	}
	var target any = s.Target
	if s.Target == float64(int64(s.Target)) {
		// What the jobspec parser yields for a whole number, so the file
		// reads back as the value hstack submits.
		target = int(s.Target)
	}
	return &nomadapi.ScalingPolicy{
		Min:     ptr(int64(s.Min)),
		Max:     ptr(int64(s.Max)),
		Enabled: ptr(true),
		Policy: map[string]any{
			"evaluation_interval": jobhcl.FormatDuration(s.EvaluationInterval),
			"cooldown":            jobhcl.FormatDuration(s.Cooldown),
			"check": []map[string]any{{
				"query": []map[string]any{{
					"source": "prometheus",
					"query":  s.Query,
					"strategy": []map[string]any{{
						"target-value": []map[string]any{{"target": target}},
					}},
				}},
			}},
		},
	}
}

func appTask(st *stackfile.Stack, app *stackfile.App) (*nomadapi.Task, error) {
	t := &nomadapi.Task{
		Name:        app.Name,
		Driver:      string(app.Driver),
		KillTimeout: ptr(app.KillTimeout),
		Resources: &nomadapi.Resources{
			CPU:      ptr(app.Resources.CPU),
			MemoryMB: ptr(app.Resources.Memory),
		},
	}
	if app.Resources.MemoryMax > 0 {
		t.Resources.MemoryMaxMB = ptr(app.Resources.MemoryMax)
	}
	args := make([]any, len(app.Args))
	for i, a := range app.Args {
		args[i] = a
	}
	switch app.Driver {
	case stackfile.DriverDocker:
		ports := make([]any, len(app.Ports))
		for i, p := range app.Ports {
			ports[i] = p.Name
		}
		t.User = dockerUser
		t.Config = map[string]any{
			"image":           app.Image,
			"ports":           ports,
			"readonly_rootfs": true,
			"cap_drop":        []any{"ALL"},
			"security_opt":    []any{"no-new-privileges"},
			// The root filesystem is read-only; many runtimes still want
			// a scratch directory.
			"mount": []map[string]any{{
				"type":          "tmpfs",
				"target":        "/tmp",
				"readonly":      false,
				"tmpfs_options": []map[string]any{{"size": 64 << 20}},
			}},
		}
		if app.Command != "" {
			t.Config["command"] = app.Command
		}
	case stackfile.DriverRawExec:
		cmd := st.Path(app.Command)
		if abs, err := filepath.Abs(cmd); err == nil {
			cmd = abs
		}
		t.Config = map[string]any{"command": cmd}
	default:
		return nil, fmt.Errorf("app %q: unsupported driver %q", app.Name, app.Driver)
	}
	if len(args) > 0 {
		t.Config["args"] = args
	}

	env := cloneMap(app.Env)
	if app.Database != nil {
		tmpl, err := databaseTemplate(st, app)
		if err != nil {
			return nil, err
		}
		t.Templates = []*nomadapi.Template{tmpl}
		// The task logs in to Vault with its workload identity under the
		// cluster's default role. The token stays out of the environment:
		// only the template runner uses it, and a token change needs no
		// restart because the runner re-renders the credentials itself.
		t.Vault = &nomadapi.Vault{ChangeMode: ptr("noop"), Env: ptr(false)}
		env[DatabaseURLFileEnv] = "${NOMAD_SECRETS_DIR}/" + DatabaseConnFile
	}
	if len(app.Config) > 0 {
		tmpl, err := configTemplate(st, app)
		if err != nil {
			return nil, err
		}
		t.Templates = append(t.Templates, tmpl)
		env[appconfig.FileEnv] = "${NOMAD_TASK_DIR}/" + appconfig.File
	}
	if len(app.Config) > 0 || (app.Database != nil && st.Database(app.Database.Name) != nil && st.Database(app.Database.Name).FromTerraform != nil) {
		// The templates read Consul (KV, the catalog). Under Consul ACLs
		// they do so with the task's own token, from its workload
		// identity, which Nomad gives only to a task with a consul block.
		t.Consul = &nomadapi.Consul{}
	}
	if len(env) > 0 {
		t.Env = env
	}
	return t, nil
}

// configTemplate renders the app's configuration from Consul KV. The keys
// it reads are those of one immutable version (see pkg/appconfig), so the
// job changes whenever the configuration does and the change is released
// like any other. noop: nothing hstack writes ever changes under a running
// allocation, and a hand edit of KV must not restart or signal
// production; the app sees such an edit only if it re-reads the file.
func configTemplate(st *stackfile.Stack, app *stackfile.App) (*nomadapi.Template, error) {
	data, err := appconfig.Template(st.Name, app.Name, app.Config)
	if err != nil {
		return nil, err
	}
	return &nomadapi.Template{
		EmbeddedTmpl: ptr(data),
		DestPath:     ptr("local/" + appconfig.File),
		Perms:        ptr("0644"),
		ChangeMode:   ptr("noop"),
	}, nil
}

// DatabaseURLFileEnv names the file holding the app's libpq connection
// string. The string itself is never in the environment: it holds a
// password.
const DatabaseURLFileEnv = stackfile.DatabaseURLFileEnv

// databaseTemplate renders short-lived PostgreSQL credentials from Vault
// into the task's secrets directory as a libpq keyword/value string. On
// rotation the file is rewritten and the app gets SIGHUP, so it can
// reconnect without a restart.
//
// A database with an address in the stack file is reached there. One from
// Terraform outputs is reached where hstack registered it in Consul
// (pkg/catalog: a service named after the database, with the writer's host
// and the port from Terraform), read from the catalog by the template
// itself, so that a new endpoint or port reaches the app with the next
// services sync, without a new job version.
func databaseTemplate(st *stackfile.Stack, app *stackfile.App) (*nomadapi.Template, error) {
	db := st.Database(app.Database.Name)
	if db == nil {
		return nil, fmt.Errorf("app %q: database %q is not declared", app.Name, app.Database.Name)
	}
	path := db.VaultMount + "/creds/" + app.Database.Role
	var data string
	if db.FromTerraform == nil {
		sslmode := "require"
		if isLoopback(db.Address) {
			// Traffic that never leaves the machine (the dev stack's
			// PostgreSQL) has nothing to encrypt against.
			sslmode = "disable"
		}
		data = fmt.Sprintf("{{ with secret %q }}host=%s port=%d dbname=%s user={{ .Data.username }} password={{ .Data.password }} sslmode=%s{{ end }}\n",
			path, libpqValue(db.Address), db.Port, libpqValue(db.DatabaseName), sslmode)
	} else {
		data = catalogDatabaseTemplate(path, db.Name, libpqValue(db.DatabaseName), DatabaseAwaitKey(st.Name, app.Name, db.Name))
	}
	t := &nomadapi.Template{
		EmbeddedTmpl: ptr(data),
		DestPath:     ptr("secrets/" + DatabaseConnFile),
		Perms:        ptr("0600"),
		ChangeMode:   ptr("signal"),
		ChangeSignal: ptr("SIGHUP"),
	}
	if app.Driver == stackfile.DriverDocker {
		// 0600 and owned by root would lock out the app, which runs as
		// nobody.
		t.Uid, t.Gid = ptr(nobodyID), ptr(nobodyID)
	}
	return t, nil
}

// catalogDatabaseTemplate is the connection string template of a database
// registered in Consul as service: host and port of its first passing
// instance (consul-template sorts them by node, then ID), so one line
// even if two agents registered it.
//
// consul-template renders an empty list as soon as it has one, so without
// more the task would start, or a running one be signalled, with an empty
// file while the service has no passing instance (not registered yet, its
// check failing). The else branch reads awaitKey, which nothing writes:
// `key` blocks until a key exists, so the template is not rendered, and the
// task waits at its first render or keeps its last file, until the service
// is back.
func catalogDatabaseTemplate(credsPath, service, dbname, awaitKey string) string {
	return fmt.Sprintf("{{ with secret %q }}{{ $c := . }}"+
		"{{ with service %q }}{{ with index . 0 }}"+
		"host={{ .Address }} port={{ .Port }} dbname=%s user={{ $c.Data.username }} password={{ $c.Data.password }} sslmode=require"+
		"{{ end }}{{ else }}{{ if key %q }}{{ end }}{{ end }}{{ end }}\n",
		credsPath, service, dbname, awaitKey)
}

// DatabaseAwaitKey is the Consul KV key an app's database template blocks
// on while the database's service has no passing instance. Nothing writes
// it: were it to exist, the template would render an empty file instead of
// waiting. It lies under the app's KV folder, which the task's Consul
// token may read (docs/services.md).
func DatabaseAwaitKey(stack, app, database string) string {
	return appconfig.AppPrefix(stack, app) + "await-service/" + database
}

// libpqValue quotes a keyword/value connection string value when needed.
func libpqValue(v string) string {
	if v != "" && !strings.ContainsAny(v, " '\\\t\n") {
		return v
	}
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
