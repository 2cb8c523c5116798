package render

import (
	"fmt"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// KindOps is the kind of the jobs that operate the cluster itself: the
// Nomad Autoscaler.
const KindOps = "ops"

// AutoscalerJobName is the Nomad job ID of the Nomad Autoscaler.
const AutoscalerJobName = "nomad-autoscaler"

// AutoscalerImage is the production image, at the version tools.sh builds.
const AutoscalerImage = "hashicorp/nomad-autoscaler:0.4.6"

// ClientFleet is the Nomad client fleet's Auto Scaling group, from the
// Terraform outputs client_asg_name, client_asg_min_size,
// client_asg_max_size and aws_region of an environment (pkg/tfoutputs.Ops).
// With it the autoscaler also scales the cluster.
type ClientFleet struct {
	ASGName  string
	Min, Max int
	// Region is the ASG's AWS region.
	Region string
}

// needsAutoscaler is true when an app has a scaling block: the policies
// live in the app jobs and the agent acts on them.
func needsAutoscaler(st *stackfile.Stack) bool {
	for _, a := range st.Apps {
		if a.Scaling != nil {
			return true
		}
	}
	return false
}

// autoscalerJob runs one Nomad Autoscaler agent: it reads the apps'
// scaling policies from Nomad, queries Prometheus (found in Consul) and
// applies the target-value strategy; with a client fleet it also scales
// the fleet's ASG (aws-asg target) on the allocated share of CPU and memory.
func autoscalerJob(st *stackfile.Stack, local bool, opts Options) *nomadapi.Job {
	task := &nomadapi.Task{
		Name:        AutoscalerJobName,
		KillTimeout: ptr(10 * time.Second),
		Resources:   &nomadapi.Resources{CPU: ptr(100), MemoryMB: ptr(64), MemoryMaxMB: ptr(128)},
		Templates: []*nomadapi.Template{{
			EmbeddedTmpl: ptr(autoscalerConfig(local, opts)),
			DestPath:     ptr("local/autoscaler.hcl"),
			ChangeMode:   ptr("restart"),
		}},
	}
	args := []any{"agent", "-config", "${NOMAD_TASK_DIR}/autoscaler.hcl"}
	if opts.ClientFleet != nil {
		task.Templates = append(task.Templates, &nomadapi.Template{
			EmbeddedTmpl: ptr(clusterPolicy(*opts.ClientFleet)),
			DestPath:     ptr("local/policies/cluster.hcl"),
			ChangeMode:   ptr("restart"),
		})
	}
	if local {
		task.Driver = "raw_exec"
		task.Config = map[string]any{"command": opts.binary("nomad-autoscaler", "nomad-autoscaler"), "args": args}
	} else {
		task.Driver = "docker"
		task.User = "65534:65534"
		task.Config = map[string]any{
			"image":           AutoscalerImage,
			"command":         "nomad-autoscaler",
			"args":            args,
			"ports":           []any{"http"},
			"readonly_rootfs": true,
			"cap_drop":        []any{"ALL"},
			"security_opt":    []any{"no-new-privileges"},
		}
		// The agent talks to Nomad through the task API socket with its
		// workload identity; give the job an ACL policy with
		// `nomad acl policy apply -job nomad-autoscaler` (docs/runbooks.md).
		task.Identity = &nomadapi.WorkloadIdentity{Env: true}
	}
	job := &nomadapi.Job{
		ID:          ptr(AutoscalerJobName),
		Name:        ptr(AutoscalerJobName),
		Type:        ptr("service"),
		Region:      ptr(st.Region),
		Namespace:   ptr(st.Namespace),
		Datacenters: append([]string(nil), st.Datacenters...),
		Meta:        stackMeta(st),
		TaskGroups: []*nomadapi.TaskGroup{{
			Name:     ptr(AutoscalerJobName),
			Count:    ptr(1),
			Networks: []*nomadapi.NetworkResource{{DynamicPorts: []nomadapi.Port{{Label: "http"}}}},
			Services: []*nomadapi.Service{{
				Name: AutoscalerJobName, PortLabel: "http", Provider: "consul",
				Checks: []nomadapi.ServiceCheck{{
					Name: "autoscaler health", Type: "http", Path: "/v1/health",
					Interval: 10 * time.Second, Timeout: 2 * time.Second,
				}},
			}},
			RestartPolicy: &nomadapi.RestartPolicy{Attempts: ptr(3), Interval: ptr(5 * time.Minute), Delay: ptr(10 * time.Second), Mode: ptr("delay")},
			Tasks:         []*nomadapi.Task{task},
		}},
	}
	return job
}

// autoscalerConfig is the agent's configuration, a consul-template
// template: Prometheus's address comes from Consul's catalog, so the agent
// follows Prometheus when it moves.
func autoscalerConfig(local bool, opts Options) string {
	var b strings.Builder
	b.WriteString("log_level = \"info\"\n\n")
	b.WriteString("http {\n  bind_address = \"{{ env \"NOMAD_IP_http\" }}\"\n  bind_port    = {{ env \"NOMAD_PORT_http\" }}\n}\n\n")
	nomad := "unix://{{ env \"NOMAD_SECRETS_DIR\" }}/api.sock"
	if local {
		nomad = opts.NomadAddr
		if nomad == "" {
			nomad = "http://127.0.0.1:4646"
		}
	}
	// Not %q: the template's own quotes must reach consul-template as they are.
	fmt.Fprintf(&b, "nomad {\n  address = \"%s\"\n}\n\n", nomad)
	b.WriteString("apm \"prometheus\" {\n  driver = \"prometheus\"\n  config = {\n" +
		"    address = \"{{ range service \"prometheus\" }}http://{{ .Address }}:{{ .Port }}{{ end }}\"\n  }\n}\n\n")
	b.WriteString("strategy \"target-value\" {\n  driver = \"target-value\"\n}\n")
	if f := opts.ClientFleet; f != nil {
		b.WriteString("\napm \"nomad-apm\" {\n  driver = \"nomad-apm\"\n}\n\n")
		fmt.Fprintf(&b, "target \"aws-asg\" {\n  driver = \"aws-asg\"\n  config = {\n    aws_region = %q\n  }\n}\n\n", f.Region)
		b.WriteString("policy {\n  dir = \"{{ env \"NOMAD_TASK_DIR\" }}/policies\"\n}\n")
	}
	return b.String()
}

// clusterPolicy scales the client fleet's ASG so that the allocated share
// of the fleet's CPU and memory stays near 70%; a node is drained before
// its instance is terminated.
func clusterPolicy(f ClientFleet) string {
	return fmt.Sprintf(`scaling "client_fleet" {
  enabled = true
  min     = %d
  max     = %d

  policy {
    cooldown            = "5m"
    evaluation_interval = "1m"

    check "cpu_allocated" {
      source = "nomad-apm"
      query  = "percentage-allocated_cpu"
      strategy "target-value" {
        target = 70
      }
    }

    check "memory_allocated" {
      source = "nomad-apm"
      query  = "percentage-allocated_memory"
      strategy "target-value" {
        target = 70
      }
    }

    target "aws-asg" {
      aws_asg_name           = %q
      node_drain_deadline    = "5m"
      node_drain_ignore_system_jobs = "true"
      node_purge             = "true"
      node_selector_strategy = "least_busy"
    }
  }
}
`, f.Min, f.Max, f.ASGName)
}
