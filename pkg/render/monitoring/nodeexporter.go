package monitoring

import (
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// nodeExporterJob runs node-exporter on every client (a system job).
func (r *renderer) nodeExporterJob() (*nomadapi.Job, error) {
	task := &nomadapi.Task{Name: NodeExporter, KillTimeout: new(5 * time.Second)}
	if r.local {
		task.Driver = "raw_exec"
		task.Config = rawExecConfig(r.binary("node_exporter"), []string{"--web.listen-address=${NOMAD_ADDR_metrics}"})
	} else {
		task.Driver = "docker"
		// The host's network, pids and (read-only) root file system: the
		// container's own would describe only itself. The bind mount needs
		// the docker plugin's volumes.enabled on the clients.
		task.Config = map[string]any{
			"image":        Images[NodeExporter],
			"network_mode": "host",
			"pid_mode":     "host",
			"args": anys([]string{
				"--path.rootfs=/host",
				"--web.listen-address=${NOMAD_ADDR_metrics}",
			}),
			"mount": []map[string]any{{
				"type":         "bind",
				"source":       "/",
				"target":       "/host",
				"readonly":     true,
				"bind_options": []map[string]any{{"propagation": "rslave"}},
			}},
		}
	}
	task.Resources = &nomadapi.Resources{CPU: new(50), MemoryMB: new(32), MemoryMaxMB: new(64)}
	j := r.job(NodeExporter, "system")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(NodeExporter),
		Networks:      []*nomadapi.NetworkResource{r.network(NodeExporter, "metrics")},
		Services:      []*nomadapi.Service{r.service(NodeExporter, "metrics", "http", "/")},
		RestartPolicy: r.restart(),
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}
