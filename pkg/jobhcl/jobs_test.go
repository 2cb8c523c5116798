package jobhcl

import (
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

func ptr[T any](v T) *T { return &v }

// The fixtures below are the kinds of jobs hstack generates. They use the Go
// shapes the jobspec parser produces for free-form maps ([]map[string]any
// for blocks, []any for lists) so the strict comparison needs no
// normalisation beyond what the JSON API does.

// serviceJob is a hardened docker web service.
func serviceJob() *nomadapi.Job {
	return &nomadapi.Job{
		ID:          ptr("web"),
		Name:        ptr("web"),
		Type:        ptr("service"),
		Region:      ptr("global"),
		Datacenters: []string{"dc1", "dc2"},
		Priority:    ptr(60),
		Meta: map[string]string{
			"owner":   "platform",
			"version": "1.4.2",
		},
		Constraints: []*nomadapi.Constraint{
			{LTarget: "${attr.kernel.name}", Operand: "=", RTarget: "linux"},
		},
		Spreads: []*nomadapi.Spread{{
			Attribute: "${node.datacenter}",
			Weight:    ptr(int8(100)),
			SpreadTarget: []*nomadapi.SpreadTarget{
				{Value: "dc1", Percent: 60},
				{Value: "dc2", Percent: 40},
			},
		}},
		Update: &nomadapi.UpdateStrategy{
			MaxParallel:      ptr(1),
			HealthCheck:      ptr("checks"),
			MinHealthyTime:   ptr(10 * time.Second),
			HealthyDeadline:  ptr(5 * time.Minute),
			ProgressDeadline: ptr(10 * time.Minute),
			AutoRevert:       ptr(true),
			AutoPromote:      ptr(true),
			Canary:           ptr(1),
		},
		TaskGroups: []*nomadapi.TaskGroup{{
			Name:          ptr("web"),
			Count:         ptr(3),
			ShutdownDelay: ptr(5 * time.Second),
			Constraints: []*nomadapi.Constraint{
				{Operand: "distinct_hosts", RTarget: "true"},
			},
			Networks: []*nomadapi.NetworkResource{{
				DynamicPorts:  []nomadapi.Port{{Label: "http", To: 8080}},
				ReservedPorts: []nomadapi.Port{{Label: "metrics", Value: 9102}},
			}},
			Services: []*nomadapi.Service{{
				Name:       "web",
				PortLabel:  "http",
				Provider:   "consul",
				Tags:       []string{"http", "urlprefix-/"},
				CanaryTags: []string{"canary"},
				Meta:       map[string]string{"version": "${NOMAD_META_version}", "alloc": "${NOMAD_ALLOC_ID}"},
				CanaryMeta: map[string]string{"canary": "true"},
				Checks: []nomadapi.ServiceCheck{{
					Name:                   "web ready",
					Type:                   "http",
					Path:                   "/readyz",
					Method:                 "GET",
					Header:                 map[string][]string{"X-Probe": {"nomad"}},
					Protocol:               "http",
					Interval:               10 * time.Second,
					Timeout:                2 * time.Second,
					SuccessBeforePassing:   2,
					FailuresBeforeCritical: 3,
					OnUpdate:               "require_healthy",
					CheckRestart: &nomadapi.CheckRestart{
						Limit: 3,
						Grace: ptr(30 * time.Second),
					},
				}},
			}},
			RestartPolicy: &nomadapi.RestartPolicy{
				Attempts: ptr(3),
				Interval: ptr(30 * time.Minute),
				Delay:    ptr(15 * time.Second),
				Mode:     ptr("fail"),
			},
			ReschedulePolicy: &nomadapi.ReschedulePolicy{
				Delay:         ptr(30 * time.Second),
				DelayFunction: ptr("exponential"),
				MaxDelay:      ptr(90 * time.Minute),
				Unlimited:     ptr(true),
			},
			Scaling: &nomadapi.ScalingPolicy{
				Min:     ptr(int64(3)),
				Max:     ptr(int64(10)),
				Enabled: ptr(true),
				Policy: map[string]any{
					"cooldown":            "1m",
					"evaluation_interval": "30s",
					"check": []map[string]any{{
						"avg_cpu": []map[string]any{{
							"source": "nomad-apm",
							"query":  "avg_cpu",
							"strategy": []map[string]any{{
								"target-value": []map[string]any{{"target": 70}},
							}},
						}},
					}},
				},
			},
			Tasks: []*nomadapi.Task{{
				Name:   "app",
				Driver: "docker",
				User:   "10001",
				Config: map[string]any{
					"image":           "ghcr.io/example/web:1.4.2",
					"ports":           []any{"http", "metrics"},
					"args":            []any{"-listen", ":${NOMAD_PORT_http}"},
					"readonly_rootfs": true,
					"cap_drop":        []any{"ALL"},
					"security_opt":    []any{"no-new-privileges"},
					"labels":          []map[string]any{{"com.example.service": "web"}},
					"mount": []map[string]any{
						{"type": "bind", "source": "local/web.conf", "target": "/etc/web/web.conf", "readonly": true},
						{"type": "tmpfs", "target": "/tmp", "tmpfs_options": []map[string]any{{"size": 64000000}}},
					},
					"logging": []map[string]any{{
						"type":   "json-file",
						"config": []map[string]any{{"max-size": "10m", "max-file": "3"}},
					}},
				},
				Env: map[string]string{
					"LISTEN_ADDR": "${NOMAD_ADDR_http}",
					"LOG_LEVEL":   "info",
				},
				Meta: map[string]string{"team": "web"},
				Vault: &nomadapi.Vault{
					Role:         "web",
					ChangeMode:   ptr("signal"),
					ChangeSignal: ptr("SIGHUP"),
				},
				Templates: []*nomadapi.Template{
					{
						EmbeddedTmpl: ptr("{{ with secret \"kv/data/web\" }}\nAPI_KEY={{ .Data.data.api_key }}\n{{ end }}\n"),
						DestPath:     ptr("secrets/web.env"),
						Envvars:      ptr(true),
						Perms:        ptr("0600"),
						ChangeMode:   ptr("restart"),
						Splay:        ptr(10 * time.Second),
					},
					{
						EmbeddedTmpl: ptr("listen = \"${NOMAD_ADDR_http}\"\n  upstream = \"[[ env \"NOMAD_UPSTREAM_ADDR_db\" ]]\"\n"),
						DestPath:     ptr("local/web.conf"),
						LeftDelim:    ptr("[["),
						RightDelim:   ptr("]]"),
						ChangeMode:   ptr("signal"),
						ChangeSignal: ptr("SIGHUP"),
					},
				},
				Identity: &nomadapi.WorkloadIdentity{Env: true},
				Resources: &nomadapi.Resources{
					CPU:         ptr(500),
					MemoryMB:    ptr(256),
					MemoryMaxMB: ptr(512),
				},
				KillTimeout: ptr(30 * time.Second),
				KillSignal:  "SIGTERM",
				LogConfig:   &nomadapi.LogConfig{MaxFiles: ptr(5), MaxFileSizeMB: ptr(20)},
			}},
		}},
	}
}

// systemJob runs node_exporter on every Linux node with raw_exec.
func systemJob() *nomadapi.Job {
	return &nomadapi.Job{
		ID:          ptr("node-exporter"),
		Type:        ptr("system"),
		Datacenters: []string{"*"},
		NodePool:    ptr("all"),
		Priority:    ptr(75),
		Constraints: []*nomadapi.Constraint{
			{LTarget: "${attr.kernel.name}", Operand: "=", RTarget: "linux"},
			{LTarget: "${attr.cpu.arch}", Operand: "regexp", RTarget: "^(amd64|arm64)$"},
		},
		Update: &nomadapi.UpdateStrategy{MaxParallel: ptr(1), Stagger: ptr(30 * time.Second)},
		TaskGroups: []*nomadapi.TaskGroup{{
			Name: ptr("node-exporter"),
			Networks: []*nomadapi.NetworkResource{{
				ReservedPorts: []nomadapi.Port{{Label: "metrics", Value: 9100}},
			}},
			Services: []*nomadapi.Service{{
				Name:      "node-exporter",
				PortLabel: "metrics",
				Provider:  "nomad",
				Tags:      []string{"prometheus"},
				Checks: []nomadapi.ServiceCheck{{
					Type:     "tcp",
					Interval: 15 * time.Second,
					Timeout:  3 * time.Second,
				}},
			}},
			RestartPolicy: &nomadapi.RestartPolicy{
				Attempts: ptr(10),
				Interval: ptr(5 * time.Minute),
				Delay:    ptr(15 * time.Second),
				Mode:     ptr("delay"),
			},
			Tasks: []*nomadapi.Task{{
				Name:   "node-exporter",
				Driver: "raw_exec",
				Config: map[string]any{
					"command": "local/node_exporter-1.8.2.linux-amd64/node_exporter",
					"args": []any{
						"--web.listen-address=${NOMAD_ADDR_metrics}",
						"--collector.systemd",
						"--collector.textfile.directory=${NOMAD_TASK_DIR}/textfile",
					},
				},
				Artifacts: []*nomadapi.TaskArtifact{{
					GetterSource:  ptr("https://github.com/prometheus/node_exporter/releases/download/v1.8.2/node_exporter-1.8.2.linux-amd64.tar.gz"),
					GetterOptions: map[string]string{"checksum": "sha256:6809dd0b3ec45fd6e992c19071d6b5253aed3ead7bf0686885a51d85c6643c66"},
					RelativeDest:  ptr("local/"),
				}},
				Resources:   &nomadapi.Resources{CPU: ptr(100), MemoryMB: ptr(64)},
				KillTimeout: ptr(10 * time.Second),
			}},
		}},
	}
}

// batchJob is a nightly database backup.
func batchJob() *nomadapi.Job {
	return &nomadapi.Job{
		ID:          ptr("db-backup"),
		Type:        ptr("batch"),
		Datacenters: []string{"dc1"},
		Meta: map[string]string{
			"com.example/owner": "dba",
			"retention":         "14d",
		},
		Periodic: &nomadapi.PeriodicConfig{
			Spec:            ptr("0 3 * * *"),
			ProhibitOverlap: ptr(true),
			TimeZone:        ptr("Europe/Berlin"),
		},
		TaskGroups: []*nomadapi.TaskGroup{{
			Name:  ptr("backup"),
			Count: ptr(1),
			RestartPolicy: &nomadapi.RestartPolicy{
				Attempts: ptr(2),
				Interval: ptr(time.Hour),
				Delay:    ptr(time.Minute),
				Mode:     ptr("fail"),
			},
			ReschedulePolicy: &nomadapi.ReschedulePolicy{
				Attempts:      ptr(1),
				Interval:      ptr(24 * time.Hour),
				Delay:         ptr(5 * time.Minute),
				DelayFunction: ptr("constant"),
				Unlimited:     ptr(false),
			},
			EphemeralDisk: &nomadapi.EphemeralDisk{SizeMB: ptr(500)},
			Tasks: []*nomadapi.Task{
				{
					Name:      "wait-for-db",
					Driver:    "raw_exec",
					Lifecycle: &nomadapi.TaskLifecycle{Hook: "prestart"},
					Config: map[string]any{
						"command": "/bin/sh",
						"args":    []any{"-c", "until pg_isready -h \"$DB_HOST\"; do sleep 1; done"},
					},
					Env:       map[string]string{"DB_HOST": "127.0.0.1"},
					Resources: &nomadapi.Resources{CPU: ptr(50), MemoryMB: ptr(32)},
				},
				{
					Name:   "dump",
					Driver: "raw_exec",
					Config: map[string]any{
						"command": "/bin/sh",
						"args":    []any{"local/backup.sh"},
					},
					Templates: []*nomadapi.Template{{
						EmbeddedTmpl: ptr("#!/bin/sh\nset -eu\n\n# ${NOMAD_ALLOC_DIR} is where the dump lands.\nout=\"${NOMAD_ALLOC_DIR}/data/$(date +%Y%m%d).sql.gz\"\n\tpg_dump -h {{ env \"DB_HOST\" }} | gzip > \"$out\"\n"),
						DestPath:     ptr("local/backup.sh"),
						Perms:        ptr("0755"),
					}},
					Vault: &nomadapi.Vault{Role: "backup", Env: ptr(false)},
					Identities: []*nomadapi.WorkloadIdentity{{
						Name:     "vault_default",
						Audience: []string{"vault.io"},
						TTL:      time.Hour,
					}},
					Resources: &nomadapi.Resources{CPU: ptr(200), MemoryMB: ptr(128), MemoryMaxMB: ptr(256)},
					LogConfig: &nomadapi.LogConfig{MaxFiles: ptr(2), MaxFileSizeMB: ptr(5)},
				},
			},
		}},
	}
}

// edgeJob is not a realistic job: it collects the cases where HCL and the
// jobspec parser are easy to get wrong, so the round trip proves them.
func edgeJob() *nomadapi.Job {
	return &nomadapi.Job{
		ID:          ptr("edge"),
		Name:        ptr("Edge cases"),
		Type:        ptr("batch"),
		Namespace:   ptr("default"),
		Datacenters: []string{"dc1"},
		AllAtOnce:   ptr(true),
		ParameterizedJob: &nomadapi.ParameterizedJobConfig{
			Payload:      "optional",
			MetaRequired: []string{"input"},
			MetaOptional: []string{"mode"},
		},
		Affinities: []*nomadapi.Affinity{
			{LTarget: "${node.class}", Operand: "=", RTarget: "large", Weight: ptr(int8(-50))},
			{LTarget: "${meta.tags}", Operand: "set_contains_any", RTarget: "ssd,nvme", Weight: ptr(int8(30))},
		},
		Constraints: []*nomadapi.Constraint{
			{LTarget: "${attr.nomad.version}", Operand: "semver", RTarget: ">= 1.9.0"},
			{LTarget: "${meta.rack}", Operand: "distinct_property", RTarget: "2"},
			{LTarget: "${meta.zone}", Operand: "set_contains_any", RTarget: "a,b"},
			{LTarget: "${meta.gpu}", Operand: "is_not_set"},
			{LTarget: "${attr.os.name}", Operand: "!=", RTarget: "windows"},
		},
		TaskGroups: []*nomadapi.TaskGroup{{
			Name:  ptr("edge"),
			Count: ptr(0),
			Meta:  map[string]string{"quote": `say "hi" \ bye`},
			Networks: []*nomadapi.NetworkResource{{
				Mode: "host",
				DynamicPorts: []nomadapi.Port{
					{Label: "a"},
					{Label: "b", To: -1},
				},
				DNS: &nomadapi.DNSConfig{Servers: []string{"1.1.1.1"}},
			}},
			Tasks: []*nomadapi.Task{{
				Name:            "edge",
				Driver:          "raw_exec",
				DispatchPayload: &nomadapi.DispatchPayloadConfig{File: "input.json"},
				Config: map[string]any{
					"command": "/bin/true",
					"args":    []any{"${x}", "$${y}", "%{ if z }", "tab\there", "héllo ✓", "multi\nline"},
					"map":     map[string]any{"a": 1, "b": []any{true, nil, 2.5}, "c.d": "dotted", "e": map[string]any{"f": "g"}},
					"float":   0.25,
					"big":     1 << 40,
					"empty":   []any{},
					"mixed":   []any{map[string]any{"k": "v"}, "s"},
					"blocks":  []map[string]any{{"x": 1, "n": nil}, {}},
					"dynamic": []map[string]any{{"not": "a dynblock"}},
					"script":  "#!/bin/sh\necho ${HOME}\n",
				},
				Env: map[string]string{
					"PATH":          "/usr/bin:/bin",
					"com.example.x": "${NOMAD_JOB_NAME}",
				},
				Templates: []*nomadapi.Template{
					// Every line indented: a flush heredoc would strip it.
					{EmbeddedTmpl: ptr("  indented\n    more\n"), DestPath: ptr("local/a")},
					// A line equal to the heredoc marker.
					{EmbeddedTmpl: ptr("a\nEOT\n"), DestPath: ptr("local/b")},
					// No trailing newline, blank and whitespace-only lines.
					{EmbeddedTmpl: ptr("x\n\n   \ny"), DestPath: ptr("local/c")},
					{EmbeddedTmpl: ptr("x\n\n   \ny\n"), DestPath: ptr("local/d"), Once: ptr(true), ErrMissingKey: ptr(true)},
					{
						SourcePath: ptr("local/tmpl"), DestPath: ptr("local/e"), ChangeMode: ptr("script"),
						ChangeScript: &nomadapi.ChangeScript{Command: ptr("/bin/reload"), Args: []string{"-x"}, FailOnError: ptr(true)},
						Wait:         &nomadapi.WaitConfig{Min: ptr(2 * time.Second), Max: ptr(1500 * time.Millisecond * 10)},
					},
					// fail_on_error is required by the parser; nil must still encode.
					{
						EmbeddedTmpl: ptr("x"), DestPath: ptr("local/f"), ChangeMode: ptr("script"),
						ChangeScript: &nomadapi.ChangeScript{Command: ptr("/bin/reload")},
					},
				},
				Identity: &nomadapi.WorkloadIdentity{Name: "default", File: true},
				Identities: []*nomadapi.WorkloadIdentity{
					{Name: "consul_default", Audience: []string{"consul.io"}, TTL: 90 * time.Minute},
				},
				Services: []*nomadapi.Service{{
					Name:      "edge",
					Provider:  "consul",
					PortLabel: "a",
					Checks: []nomadapi.ServiceCheck{{
						Type:     "script",
						Command:  "/bin/check",
						Args:     []string{"--deep"},
						Interval: 1500 * time.Millisecond,
						Timeout:  1200 * time.Millisecond,
					}},
				}},
				ShutdownDelay: 1500 * time.Millisecond,
				Resources:     &nomadapi.Resources{CPU: ptr(20), MemoryMB: ptr(16)},
			}},
		}},
	}
}
