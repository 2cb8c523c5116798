package monitoring

import (
	"fmt"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// Log shipping reads what Nomad keeps of every task's output: the rotated
// files <data_dir>/alloc/<alloc id>/alloc/logs/<task>.<stdout|stderr>.<n>.
// Both shippers mount the client's alloc directory read-only at
// /nomad/alloc and take the allocation, task and stream from the path.
const (
	allocMount   = "/nomad/alloc"
	allocLogGlob = allocMount + "/*/alloc/logs/*.std*.[0-9]*"
	allocLogPath = `^` + allocMount + `/(?P<alloc_id>[^/]+)/alloc/logs/(?P<task>.+)\.(?P<stream>stdout|stderr)\.[0-9]+$`
)

// allocLogsMount is the docker mount of the client's alloc directory; like
// node-exporter's, it needs the docker plugin's volumes.enabled.
func allocLogsMount() []map[string]any {
	return []map[string]any{{
		"type":     "bind",
		"source":   NomadDataDir + "/alloc",
		"target":   allocMount,
		"readonly": true,
	}}
}

// restartOnChange is for components that do not reload their configuration
// on SIGHUP.
func restartOnChange(t *nomadapi.Template) *nomadapi.Template {
	t.ChangeMode, t.ChangeSignal = new("restart"), nil
	return t
}

// logRetention is the Loki retention: the metrics' retention, in whole
// days because Loki deletes whole daily index periods.
func (r *renderer) logRetention() string {
	days := (r.m.Prometheus.Retention + 24*time.Hour - 1) / (24 * time.Hour)
	return fmt.Sprintf("%dh", max(days, 1)*24)
}

func (r *renderer) lokiJob() (*nomadapi.Job, error) {
	const data = "/alloc/data/loki"
	cfg := map[string]any{
		"auth_enabled": false,
		"server": map[string]any{
			"http_listen_port": staticPorts[Loki],
			"grpc_listen_port": 9096,
			"log_level":        "warn",
		},
		"common": map[string]any{
			"instance_addr":      "127.0.0.1",
			"path_prefix":        data,
			"replication_factor": 1,
			"ring":               map[string]any{"kvstore": map[string]any{"store": "inmemory"}},
			"storage": map[string]any{"filesystem": map[string]any{
				"chunks_directory": data + "/chunks",
				"rules_directory":  data + "/rules",
			}},
		},
		"schema_config": map[string]any{"configs": []map[string]any{{
			"from":         "2024-01-01",
			"store":        "tsdb",
			"object_store": "filesystem",
			"schema":       "v13",
			"index":        map[string]any{"prefix": "index_", "period": "24h"},
		}}},
		"limits_config": map[string]any{"retention_period": r.logRetention()},
		"compactor": map[string]any{
			"working_directory":    data + "/compactor",
			"retention_enabled":    true,
			"delete_request_store": "filesystem",
		},
		"analytics": map[string]any{"reporting_enabled": false},
	}
	y, err := (&tmplDoc{}).render(cfg)
	if err != nil {
		return nil, fmt.Errorf("monitoring: loki.yml: %w", err)
	}
	task := &nomadapi.Task{
		Name:        Loki,
		Driver:      "docker",
		Config:      dockerConfig(Images[Loki], []string{"-config.file=/local/loki.yml"}, "http"),
		Templates:   []*nomadapi.Template{restartOnChange(newTemplate("local/loki.yml", y))},
		Resources:   &nomadapi.Resources{CPU: new(500), MemoryMB: new(512), MemoryMaxMB: new(1024)},
		KillTimeout: new(30 * time.Second),
	}
	j := r.job(Loki, "service")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(Loki),
		Count:         new(1),
		Networks:      []*nomadapi.NetworkResource{r.network(Loki, "http")},
		Services:      []*nomadapi.Service{r.service(Loki, "http", "http", "/ready")},
		RestartPolicy: r.restart(),
		EphemeralDisk: &nomadapi.EphemeralDisk{Sticky: new(true), Migrate: new(true), SizeMB: new(10240)},
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}

func (r *renderer) promtailJob() (*nomadapi.Job, error) {
	d := &tmplDoc{}
	cfg := map[string]any{
		"server": map[string]any{"http_listen_port": staticPorts[Promtail], "grpc_listen_port": 0},
		// On the sticky disk: a new allocation on the same node resumes
		// where the last one stopped instead of shipping everything again.
		"positions": map[string]any{"filename": "/alloc/data/positions.yaml"},
		"clients":   []map[string]any{{"url": serviceURL(Loki) + "/loki/api/v1/push"}},
		"scrape_configs": []map[string]any{{
			"job_name": "nomad-allocs",
			"static_configs": []map[string]any{{
				"targets": []string{"localhost"},
				"labels": map[string]string{
					"job":      "nomad",
					"node":     d.action(envAction("node.unique.name")),
					"__path__": allocLogGlob,
				},
			}},
			"pipeline_stages": []map[string]any{
				{"regex": map[string]any{"source": "filename", "expression": allocLogPath}},
				{"labels": map[string]any{"alloc_id": nil, "task": nil, "stream": nil}},
			},
		}},
	}
	y, err := d.render(cfg)
	if err != nil {
		return nil, fmt.Errorf("monitoring: promtail.yml: %w", err)
	}
	conf := dockerConfig(Images[Promtail], []string{"-config.file=/local/promtail.yml"}, "http")
	conf["mount"] = allocLogsMount()
	task := &nomadapi.Task{
		Name:        Promtail,
		Driver:      "docker",
		Config:      conf,
		Templates:   []*nomadapi.Template{restartOnChange(newTemplate("local/promtail.yml", y))},
		Resources:   &nomadapi.Resources{CPU: new(100), MemoryMB: new(128), MemoryMaxMB: new(256)},
		KillTimeout: new(10 * time.Second),
	}
	j := r.job(Promtail, "system")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(Promtail),
		Networks:      []*nomadapi.NetworkResource{r.network(Promtail, "http")},
		Services:      []*nomadapi.Service{r.service(Promtail, "http", "http", "/ready")},
		RestartPolicy: r.restart(),
		// Room for its positions file plus Nomad's own task logs (10 x 10 MB by
		// default), which must fit inside the ephemeral disk.
		EphemeralDisk: &nomadapi.EphemeralDisk{Sticky: new(true), SizeMB: new(300)},
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}

// vectorJob ships the same files with Vector, into the same Loki, so
// Grafana has one log data source whichever shipper runs.
func (r *renderer) vectorJob() (*nomadapi.Job, error) {
	cfg := map[string]any{
		"data_dir": "/alloc/data",
		"api":      map[string]any{"enabled": true, "address": fmt.Sprintf("0.0.0.0:%d", staticPorts[Vector])},
		"sources": map[string]any{"nomad_allocs": map[string]any{
			"type":    "file",
			"include": []string{allocLogGlob},
		}},
		"transforms": map[string]any{"nomad_labels": map[string]any{
			"type":   "remap",
			"inputs": []string{"nomad_allocs"},
			"source": "parts = parse_regex!(.file, r'" + allocLogPath + "')\n" +
				".alloc_id = parts.alloc_id\n.task = parts.task\n.stream = parts.stream\n",
		}},
		"sinks": map[string]any{"loki": map[string]any{
			"type":     "loki",
			"inputs":   []string{"nomad_labels"},
			"endpoint": serviceURL(Loki),
			"encoding": map[string]any{"codec": "text"},
			// Vector's own templates, and its ${...} environment
			// interpolation for the node's name.
			"labels": map[string]string{
				"job":      "nomad",
				"node":     "${NODE_NAME}",
				"alloc_id": "{{ alloc_id }}",
				"task":     "{{ task }}",
				"stream":   "{{ stream }}",
			},
		}},
	}
	y, err := encodeYAML(cfg)
	if err != nil {
		return nil, fmt.Errorf("monitoring: vector.yaml: %w", err)
	}
	tmpl, err := rawTemplate("local/vector.yaml", y)
	if err != nil {
		return nil, err
	}
	conf := dockerConfig(Images[Vector], []string{"--config", "/local/vector.yaml"}, "http")
	conf["mount"] = allocLogsMount()
	task := &nomadapi.Task{
		Name:        Vector,
		Driver:      "docker",
		Config:      conf,
		Env:         map[string]string{"NODE_NAME": "${node.unique.name}"},
		Templates:   []*nomadapi.Template{tmpl},
		Resources:   &nomadapi.Resources{CPU: new(200), MemoryMB: new(256), MemoryMaxMB: new(512)},
		KillTimeout: new(10 * time.Second),
	}
	j := r.job(Vector, "system")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(Vector),
		Networks:      []*nomadapi.NetworkResource{r.network(Vector, "http")},
		Services:      []*nomadapi.Service{r.service(Vector, "http", "http", "/health")},
		RestartPolicy: r.restart(),
		EphemeralDisk: &nomadapi.EphemeralDisk{Sticky: new(true), SizeMB: new(300)},
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}
