package monitoring

import (
	"fmt"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// Grafana provisioning files
// (https://grafana.com/docs/grafana/latest/administration/provisioning/).
type grafanaDatasources struct {
	APIVersion  int                 `yaml:"apiVersion"`
	Datasources []grafanaDatasource `yaml:"datasources"`
}

type grafanaDatasource struct {
	Name      string `yaml:"name"`
	UID       string `yaml:"uid"`
	Type      string `yaml:"type"`
	Access    string `yaml:"access"`
	URL       string `yaml:"url"`
	IsDefault bool   `yaml:"isDefault"`
	Editable  bool   `yaml:"editable"`
}

type grafanaDashboardProviders struct {
	APIVersion int                        `yaml:"apiVersion"`
	Providers  []grafanaDashboardProvider `yaml:"providers"`
}

type grafanaDashboardProvider struct {
	Name                  string            `yaml:"name"`
	Folder                string            `yaml:"folder"`
	Type                  string            `yaml:"type"`
	DisableDeletion       bool              `yaml:"disableDeletion"`
	AllowUIUpdates        bool              `yaml:"allowUiUpdates"`
	UpdateIntervalSeconds int               `yaml:"updateIntervalSeconds"`
	Options               map[string]string `yaml:"options"`
}

// serviceURL is a production service's address through Consul DNS, on its
// static port.
func serviceURL(component string) string {
	return fmt.Sprintf("http://%s.service.consul:%d", component, staticPorts[component])
}

func (r *renderer) grafanaJob() (*nomadapi.Job, error) {
	ds := grafanaDatasources{APIVersion: 1, Datasources: []grafanaDatasource{{
		Name: "Prometheus", UID: "prometheus", Type: "prometheus", Access: "proxy",
		URL: serviceURL(Prometheus), IsDefault: true,
	}}}
	if r.m.Logs.Enabled {
		ds.Datasources = append(ds.Datasources, grafanaDatasource{
			Name: "Loki", UID: "loki", Type: "loki", Access: "proxy", URL: serviceURL(Loki),
		})
	}
	dsYAML, err := (&tmplDoc{}).render(ds)
	if err != nil {
		return nil, err
	}
	prov, err := (&tmplDoc{}).render(grafanaDashboardProviders{APIVersion: 1, Providers: []grafanaDashboardProvider{{
		Name: "hstack", Folder: "hstack", Type: "file",
		DisableDeletion: true, UpdateIntervalSeconds: 30,
		Options: map[string]string{"path": "/local/dashboards"},
	}}})
	if err != nil {
		return nil, err
	}
	// Grafana reads provisioning only at start-up.
	templates := []*nomadapi.Template{
		restartOnChange(newTemplate("local/provisioning/datasources/hstack.yml", dsYAML)),
		restartOnChange(newTemplate("local/provisioning/dashboards/hstack.yml", prov)),
	}
	dashboards, err := Dashboards()
	if err != nil {
		return nil, err
	}
	for _, d := range dashboards {
		b, err := d.JSON()
		if err != nil {
			return nil, err
		}
		t, err := rawTemplate("local/dashboards/"+d.File, string(b))
		if err != nil {
			return nil, err
		}
		// The provider polls the directory; no need to disturb Grafana.
		t.ChangeMode, t.ChangeSignal = new("noop"), nil
		templates = append(templates, t)
	}
	task := &nomadapi.Task{
		Name:   Grafana,
		Driver: "docker",
		Config: dockerConfig(Images[Grafana], nil, "http"),
		Env: map[string]string{
			"GF_SERVER_HTTP_PORT":            "${NOMAD_PORT_http}",
			"GF_PATHS_PROVISIONING":          "/local/provisioning",
			"GF_PATHS_DATA":                  "/alloc/data/grafana",
			"GF_ANALYTICS_REPORTING_ENABLED": "false",
			"GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
			"GF_AUTH_ANONYMOUS_ENABLED":      "false",
		},
		Templates:   templates,
		Resources:   &nomadapi.Resources{CPU: new(200), MemoryMB: new(256), MemoryMaxMB: new(512)},
		KillTimeout: new(10 * time.Second),
	}
	j := r.job(Grafana, "service")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(Grafana),
		Count:         new(1),
		Networks:      []*nomadapi.NetworkResource{r.network(Grafana, "http")},
		Services:      []*nomadapi.Service{r.service(Grafana, "http", "http", "/api/health")},
		RestartPolicy: r.restart(),
		// Users, preferences and annotations live in Grafana's SQLite
		// database in the alloc dir.
		EphemeralDisk: &nomadapi.EphemeralDisk{Sticky: new(true), Migrate: new(true), SizeMB: new(500)},
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}
