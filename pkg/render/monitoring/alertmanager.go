package monitoring

import (
	"fmt"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// The subset of Alertmanager's configuration hstack writes
// (https://prometheus.io/docs/alerting/latest/configuration/). Every field
// is understood by Alertmanager 0.25, Debian's, which the tests validate
// with.
type amConfig struct {
	Route     amRoute      `yaml:"route"`
	Receivers []amReceiver `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string   `yaml:"receiver"`
	GroupBy        []string `yaml:"group_by,flow,omitempty"`
	GroupWait      string   `yaml:"group_wait"`
	GroupInterval  string   `yaml:"group_interval"`
	RepeatInterval string   `yaml:"repeat_interval"`
}

type amReceiver struct {
	Name             string            `yaml:"name"`
	SlackConfigs     []slackConfig     `yaml:"slack_configs,omitempty"`
	PagerdutyConfigs []pagerdutyConfig `yaml:"pagerduty_configs,omitempty"`
	EmailConfigs     []emailConfig     `yaml:"email_configs,omitempty"`
	WebhookConfigs   []webhookConfig   `yaml:"webhook_configs,omitempty"`
}

type slackConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	APIURLFile   string `yaml:"api_url_file"`
	Channel      string `yaml:"channel,omitempty"`
}

type pagerdutyConfig struct {
	SendResolved   bool   `yaml:"send_resolved"`
	RoutingKeyFile string `yaml:"routing_key_file"`
}

type emailConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	To           string `yaml:"to"`
	From         string `yaml:"from"`
	Smarthost    string `yaml:"smarthost"`
}

type webhookConfig struct {
	SendResolved bool   `yaml:"send_resolved"`
	URL          string `yaml:"url"`
}

// The configuration file goes to the secrets dir: a webhook URL is written
// into it (see webhookConfig in alertmanagerFiles).
const amConfigFile = "secrets/alertmanager.yml"

// alertmanagerFiles returns alertmanager.yml and the secret files it
// refers to, all as Nomad templates, and whether they read Vault.
//
// Secrets are only ever read from Vault by the templates. Where
// Alertmanager 0.25 can read a secret from a file (slack api_url_file,
// pagerduty routing_key_file), the secret gets a file of its own in the
// secrets dir. Webhooks have url_file only from 0.26, so the URL is written
// into alertmanager.yml, quoted by toJSON (a JSON string is a YAML
// string), which is why that file also lives in the secrets dir.
func (r *renderer) alertmanagerFiles() (cfgTmpl string, secrets []*nomadapi.Template, usesVault bool, err error) {
	am := r.m.Alertmanager
	d := &tmplDoc{}
	// Alertmanager reads *_file paths as written, so they are absolute:
	// the secrets dir is a host path under raw_exec, /secrets in docker.
	secretsDir := ""
	secretFile := func(name string) string {
		if secretsDir == "" {
			secretsDir = d.action(envAction("NOMAD_SECRETS_DIR"))
		}
		return secretsDir + "/" + name
	}
	route := am.Route
	if route == nil {
		return "", nil, false, fmt.Errorf("alertmanager has no route")
	}
	cfg := amConfig{Route: amRoute{
		Receiver:       route.Receiver,
		GroupBy:        route.GroupBy,
		GroupWait:      promDuration(route.GroupWait),
		GroupInterval:  promDuration(route.GroupInterval),
		RepeatInterval: promDuration(route.RepeatInterval),
	}}
	for _, rc := range am.Receivers {
		out := amReceiver{Name: rc.Name}
		switch rc.Type {
		case stackfile.ReceiverSlack:
			if rc.URL == nil {
				return "", nil, false, fmt.Errorf("receiver %q: slack needs url_vault", rc.Name)
			}
			file := rc.Name + ".slack-url"
			secrets = append(secrets, r.secretTemplate("secrets/"+file, secretAction(rc.URL, "")))
			out.SlackConfigs = []slackConfig{{SendResolved: true, APIURLFile: secretFile(file), Channel: rc.Channel}}
		case stackfile.ReceiverPagerDuty:
			if rc.Key == nil {
				return "", nil, false, fmt.Errorf("receiver %q: pagerduty needs key_vault", rc.Name)
			}
			file := rc.Name + ".pagerduty-key"
			secrets = append(secrets, r.secretTemplate("secrets/"+file, secretAction(rc.Key, "")))
			out.PagerdutyConfigs = []pagerdutyConfig{{SendResolved: true, RoutingKeyFile: secretFile(file)}}
		case stackfile.ReceiverEmail:
			out.EmailConfigs = []emailConfig{{
				SendResolved: true,
				To:           rc.To,
				From:         "alertmanager@" + d.action(envAction("attr.unique.hostname")),
				Smarthost:    d.action(smarthostAction),
			}}
		case stackfile.ReceiverWebhook:
			if rc.URL == nil {
				return "", nil, false, fmt.Errorf("receiver %q: webhook needs url_vault", rc.Name)
			}
			out.WebhookConfigs = []webhookConfig{{SendResolved: true, URL: d.action(secretAction(rc.URL, "toJSON"))}}
		default:
			return "", nil, false, fmt.Errorf("receiver %q: unknown type %q", rc.Name, rc.Type)
		}
		if rc.URL != nil || rc.Key != nil {
			usesVault = true
		}
		cfg.Receivers = append(cfg.Receivers, out)
	}
	s, err := d.render(cfg)
	return s, secrets, usesVault, err
}

// smarthostAction picks the SMTP relay registered in Consul as "smtp", or
// an MTA on the node itself when there is none: email is the one receiver
// that needs no secret, because the relay, not Alertmanager, holds any
// credentials of the mail provider.
const smarthostAction = `{{ with service "smtp" }}{{ with index . 0 }}{{ .Address }}:{{ .Port }}{{ end }}{{ else }}{{ env "attr.unique.network.ip-address" }}:25{{ end }}`

func (r *renderer) alertmanagerJob() (*nomadapi.Job, error) {
	cfg, secrets, usesVault, err := r.alertmanagerFiles()
	if err != nil {
		return nil, fmt.Errorf("monitoring: alertmanager.yml: %w", err)
	}
	args := []string{
		"--config.file=${NOMAD_SECRETS_DIR}/alertmanager.yml",
		"--storage.path=${NOMAD_ALLOC_DIR}/data/alertmanager",
		"--web.listen-address=" + r.listenAddr("http"),
		// One instance, so no gossip: an empty address turns clustering
		// off instead of binding 0.0.0.0:9094.
		"--cluster.listen-address=",
	}
	// Debian builds Alertmanager without its web UI; given the UI's files
	// (scripts/tools.sh alertmanager-ui), the dev stack serves it too.
	if ui := r.opts.Binaries[AlertmanagerUI]; ui != "" && r.local {
		args = append(args, "--web.ui-path="+ui)
	}
	task := &nomadapi.Task{
		Name:        Alertmanager,
		Templates:   append([]*nomadapi.Template{r.secretTemplate(amConfigFile, cfg)}, secrets...),
		KillTimeout: new(10 * time.Second),
	}
	if usesVault {
		// The task's workload identity logs in to Vault; the policy of its
		// role must allow reading the receivers' paths.
		task.Vault = &nomadapi.Vault{}
	}
	if r.local {
		task.Driver = "raw_exec"
		task.Config = rawExecConfig(r.binary("alertmanager"), args)
		task.Resources = &nomadapi.Resources{CPU: new(100), MemoryMB: new(64), MemoryMaxMB: new(128)}
	} else {
		task.Driver = "docker"
		task.Config = dockerConfig(Images[Alertmanager], args, "http")
		task.Resources = &nomadapi.Resources{CPU: new(100), MemoryMB: new(128), MemoryMaxMB: new(256)}
	}
	j := r.job(Alertmanager, "service")
	j.TaskGroups = []*nomadapi.TaskGroup{{
		Name:          new(Alertmanager),
		Count:         new(1),
		Networks:      []*nomadapi.NetworkResource{r.network(Alertmanager, "http")},
		Services:      []*nomadapi.Service{r.service(Alertmanager, "http", "http", "/-/ready")},
		RestartPolicy: r.restart(),
		// Silences and the notification log survive updates.
		EphemeralDisk: &nomadapi.EphemeralDisk{Sticky: new(true), Migrate: new(true), SizeMB: new(300)},
		Tasks:         []*nomadapi.Task{task},
	}}
	return j, nil
}
