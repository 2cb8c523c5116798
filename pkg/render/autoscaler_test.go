package render

import (
	"strings"
	"testing"
)

func TestAutoscalerRenderedOnlyWithAScalingBlock(t *testing.T) {
	for _, env := range []string{"", "dev"} {
		for _, j := range mustRender(t, loadExample(t, env), Options{}) {
			if j.Kind == KindOps {
				t.Errorf("env %q has no scaling block, yet renders %s", env, j.Name)
			}
		}
	}
	j := jobNamed(t, mustRender(t, loadExample(t, "prod"), Options{}), AutoscalerJobName)
	if j.Kind != KindOps {
		t.Errorf("kind %s", j.Kind)
	}
	task := j.Job.TaskGroups[0].Tasks[0]
	if task.Driver != "docker" || task.Config["image"] != AutoscalerImage || task.Identity == nil || !task.Identity.Env {
		t.Errorf("prod task: driver %s, config %v, identity %+v", task.Driver, task.Config, task.Identity)
	}
	cfg := *task.Templates[0].EmbeddedTmpl
	for _, want := range []string{
		`address = "unix://{{ env "NOMAD_SECRETS_DIR" }}/api.sock"`,
		`apm "prometheus"`,
		`{{ range service "prometheus" }}http://{{ .Address }}:{{ .Port }}{{ end }}`,
		`strategy "target-value"`,
	} {
		if !strings.Contains(cfg, want) {
			t.Errorf("agent config lacks %s:\n%s", want, cfg)
		}
	}
	if strings.Contains(cfg, "aws-asg") || len(task.Templates) != 1 {
		t.Error("a cluster policy without a client fleet")
	}
}

func TestAutoscalerScalesTheClientFleet(t *testing.T) {
	opts := Options{ClientFleet: &ClientFleet{ASGName: "shop-clients", Min: 3, Max: 12, Region: "us-east-1"}}
	task := jobNamed(t, mustRender(t, loadExample(t, "prod"), opts), AutoscalerJobName).Job.TaskGroups[0].Tasks[0]
	if len(task.Templates) != 2 {
		t.Fatalf("%d templates", len(task.Templates))
	}
	cfg, pol := *task.Templates[0].EmbeddedTmpl, *task.Templates[1].EmbeddedTmpl
	for _, want := range []string{`target "aws-asg"`, `aws_region = "us-east-1"`, `apm "nomad-apm"`, `policy {`} {
		if !strings.Contains(cfg, want) {
			t.Errorf("agent config lacks %s", want)
		}
	}
	for _, want := range []string{"min     = 3", "max     = 12", `aws_asg_name           = "shop-clients"`, `query  = "percentage-allocated_cpu"`, `node_drain_deadline`} {
		if !strings.Contains(pol, want) {
			t.Errorf("cluster policy lacks %s:\n%s", want, pol)
		}
	}
	if *task.Templates[1].DestPath != "local/policies/cluster.hcl" {
		t.Errorf("policy at %s", *task.Templates[1].DestPath)
	}
}

func TestAutoscalerLocalRunsTheBinary(t *testing.T) {
	st := loadExample(t, "dev")
	st.Apps[0].Scaling = loadExample(t, "prod").Apps[0].Scaling
	j := jobNamed(t, mustRender(t, st, Options{NomadAddr: "http://127.0.0.1:14646", Binaries: map[string]string{"nomad-autoscaler": "/opt/nomad-autoscaler"}}), AutoscalerJobName)
	task := j.Job.TaskGroups[0].Tasks[0]
	if task.Driver != "raw_exec" || task.Config["command"] != "/opt/nomad-autoscaler" {
		t.Errorf("local task %s %v", task.Driver, task.Config)
	}
	if cfg := *task.Templates[0].EmbeddedTmpl; !strings.Contains(cfg, `address = "http://127.0.0.1:14646"`) {
		t.Errorf("local agent config:\n%s", cfg)
	}
}

func TestSnapshotJobShipsToTheBucket(t *testing.T) {
	for _, j := range mustRender(t, loadExample(t, "prod"), Options{}) {
		if j.Name == SnapshotJobName {
			t.Error("a snapshot job without a bucket")
		}
	}
	j := jobNamed(t, mustRender(t, loadExample(t, "prod"), Options{SnapshotBucket: "shop-snapshots", Version: "1.4.0"}), SnapshotJobName)
	if *j.Job.Type != "batch" || j.Job.Periodic == nil || *j.Job.Periodic.Spec != SnapshotSchedule || !*j.Job.Periodic.ProhibitOverlap {
		t.Errorf("not a periodic batch job: %+v", j.Job.Periodic)
	}
	task := j.Job.TaskGroups[0].Tasks[0]
	args := task.Config["args"].([]any)
	if task.Config["image"] != HstackImage+":1.4.0" || args[0] != "snapshot" || args[1] != "save" || args[len(args)-1] != "s3://shop-snapshots/shop" {
		t.Errorf("task config %v", task.Config)
	}
	// The upload needs the instance role, and IMDSv2's hop limit of 1
	// (terraform/modules/fleet) admits only the host's network.
	if task.Config["network_mode"] != "host" {
		t.Errorf("network_mode = %v, want host: a bridged container cannot reach IMDSv2 with hop limit 1", task.Config["network_mode"])
	}
	if !strings.Contains(string(j.HCL), `secret "nomad/creds/snapshot"`) || strings.Contains(string(j.HCL), "TOKEN=s.") {
		t.Error("tokens are not fetched from Vault at run time")
	}
}
