package stackfile

import (
	"path/filepath"
	"testing"
	"time"
)

var exampleFile = filepath.Join("..", "..", DefaultFile)

// The commented example at the repository root is documentation users
// copy from; it must stay valid for the base and every environment.
func TestExampleLoadsInEveryEnvironment(t *testing.T) {
	base, diags := Load(exampleFile, LoadOptions{Getenv: envFrom()})
	if diags.HasErrors() {
		t.Fatalf("base:%s", dumpDiags(diags))
	}
	if len(base.Environments) == 0 {
		t.Fatal("the example declares no environments")
	}
	for _, env := range base.Environments {
		if _, diags := Load(exampleFile, LoadOptions{Env: env, Getenv: envFrom()}); diags.HasErrors() {
			t.Errorf("env %s:%s", env, dumpDiags(diags))
		}
	}
}

func TestExampleContent(t *testing.T) {
	load := func(env string) *Stack {
		t.Helper()
		s, diags := Load(exampleFile, LoadOptions{Env: env, Getenv: envFrom()})
		if diags.HasErrors() {
			t.Fatalf("env %q:%s", env, dumpDiags(diags))
		}
		return s
	}
	base, dev, prod := load(""), load("dev"), load("prod")

	db := base.Database("main")
	if db == nil || db.Role("pingapp").Privilege != PrivilegeReadWrite || db.Role("reporting").Privilege != PrivilegeReadOnly {
		t.Fatalf("database main with roles pingapp (readwrite) and reporting (readonly): %+v", db)
	}
	if a := base.App("pingapp"); a.Database.Name != "main" || a.Database.Role != "pingapp" {
		t.Errorf("pingapp database = %+v", a.Database)
	}

	d := dev.App("pingapp")
	if d.Driver != DriverRawExec || d.Command != "bin/pingapp" || d.Command != dev.Variable("pingapp_bin").Value.AsString() {
		t.Errorf("dev: driver %s command %q, want raw_exec running var.pingapp_bin", d.Driver, d.Command)
	}
	if dev.Path(d.Command) != filepath.Join(dev.Dir, "bin", "pingapp") {
		t.Errorf("dev command path = %s", dev.Path(d.Command))
	}

	p := prod.App("pingapp")
	if p.Driver != DriverDocker || p.Image != "ghcr.io/hstack-dev/pingapp:1.0.0" || p.Count != 3 || !p.SpreadAcrossZones {
		t.Errorf("prod app = %s %q count %d spread %v", p.Driver, p.Image, p.Count, p.SpreadAcrossZones)
	}
	r := p.Rollout
	if r.Strategy != StrategyCanary || len(r.Steps) != 2 || len(r.Analyses) == 0 || len(r.Steps[0].Analysis) == 0 {
		t.Errorf("prod rollout = %+v", r)
	}
	if a := r.Analysis("success-rate"); a == nil || a.Min == nil || *a.Min != 0.99 || a.Interval != 15*time.Second {
		t.Errorf("success-rate analysis = %+v", a)
	}
	if tf := prod.Database("main").FromTerraform; tf == nil || tf.Writer != "aurora_writer_endpoint" || prod.Database("main").Address != "" {
		t.Errorf("prod database = %+v", prod.Database("main"))
	}
	if prod.Ingress == nil || prod.Ingress.Routes[0].App != "pingapp" {
		t.Errorf("prod ingress = %+v", prod.Ingress)
	}
	am := prod.Monitoring.Alertmanager
	if !am.Enabled || len(am.Receivers) == 0 || am.Receivers[0].Key == nil || am.Receivers[0].Key.VaultPath != "secret/data/alerting" {
		t.Errorf("prod alertmanager = %+v", am)
	}
	if n := prod.Notifier("ops"); n.URL.VaultPath != "secret/data/hooks" || n.URL.Env != "" {
		t.Errorf("prod notifier = %+v", n.URL)
	}
	if dev.Monitoring.Grafana.Enabled || dev.Monitoring.Logs.Enabled || !base.Monitoring.Grafana.Enabled {
		t.Errorf("dev must disable grafana and logs, base enables them")
	}
}
