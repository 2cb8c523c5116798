package monitoring

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/jobhcl"
	"github.com/hstack-dev/hstack/pkg/testenv"
)

// integrationStack is scraped and evaluated every 2s, so InstanceDown
// waits 10s; the webhook URL is a Vault secret.
const integrationStack = `
stack "it" {}

app "pingapp" {
  driver  = "raw_exec"
  command = "/bin/true" # not used: the test runs jobs/pingapp.nomad.hcl
  port "http" {}
}

monitoring {
  prometheus {
    scrape_interval = "2s"
    retention       = "1d"
  }
  alertmanager {
    receiver "hook" {
      type      = "webhook"
      url_vault = "secret/data/alerting#webhook_url"
    }
    # Not routed to; rendered and loaded all the same.
    receiver "chat" {
      type      = "slack"
      url_vault = "secret/data/alerting#slack_url"
    }
    receiver "mail" {
      type = "email"
      to   = "ops@example.com"
    }
    route {
      receiver       = "hook"
      group_wait     = "1s"
      group_interval = "1s"
    }
  }
  node_exporter {}
  grafana {}
  logs {}
}
`

// TestLocalMonitoringOnDevStack runs the Local jobs on a real dev stack
// with a real pingapp: Prometheus finds pingapp through Consul and scrapes
// it, and when pingapp's job stops, InstanceDown reaches Alertmanager,
// which posts it to a webhook whose URL it read from Vault.
func TestLocalMonitoringOnDevStack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	for _, bin := range []struct{ name, pkg string }{
		{DefaultBinaries["prometheus"], "prometheus"},
		{DefaultBinaries["alertmanager"], "prometheus-alertmanager"},
		{DefaultBinaries["node_exporter"], "prometheus-node-exporter"},
	} {
		if _, err := os.Stat(bin.name); err != nil {
			msg := fmt.Sprintf("integration test needs %s (Debian package %s; `make deps` installs it)", bin.name, bin.pkg)
			testenv.Missing(t, msg)
		}
	}
	s := devstacktest.Start(t)
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	vault, err := s.VaultClient()
	if err != nil {
		t.Fatal(err)
	}

	hook := newWebhook(t)
	// The receiver's secret, and a policy that lets Nomad workloads read
	// it (the dev stack's policy allows only database credentials).
	if err := vault.Sys().Mount("secret", &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Logical().Write("secret/data/alerting", map[string]any{"data": map[string]any{
		"webhook_url": hook.url,
		"slack_url":   "https://hooks.slack.example/services/T0/B0/it-slack-secret",
	}}); err != nil {
		t.Fatal(err)
	}
	policy, err := vault.Sys().GetPolicy("nomad-workloads")
	if err != nil {
		t.Fatal(err)
	}
	policy += "\npath \"secret/data/alerting\" {\n  capabilities = [\"read\"]\n}\n"
	if err := vault.Sys().PutPolicy("nomad-workloads", policy); err != nil {
		t.Fatal(err)
	}

	st := parseStack(t, integrationStack)
	jobs, err := Jobs(st, Options{
		Local:          true,
		ConsulHTTPAddr: s.ConsulAddr(),
		NomadAddr:      s.NomadAddr(),
		VaultAddr:      s.VaultAddr(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(jobIDs(jobs), ","); got != "prometheus,alertmanager,node-exporter" {
		t.Fatalf("local jobs = %s", got)
	}
	for _, j := range jobs {
		b, _ := json.Marshal(j)
		if strings.Contains(string(b), hook.url) {
			t.Fatalf("job %s contains the webhook URL", *j.ID)
		}
		// Deploy what `hstack render` would write: the job as HCL, parsed
		// by Nomad.
		src, err := jobhcl.Encode(j)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := nomad.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: string(src), Canonicalize: true})
		if err != nil {
			t.Fatalf("nomad parse %s:\n%s\n%v", *j.ID, src, err)
		}
		if _, _, err := nomad.Jobs().Register(parsed, nil); err != nil {
			t.Fatalf("register %s: %v", *j.ID, err)
		}
	}
	pingappBin := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	pingapp := devstacktest.ParsePingappJob(t, nomad, map[string]string{
		"pingapp_bin":   pingappBin,
		"database_port": fmt.Sprint(s.Ports.Postgres),
		"version":       "it-1",
	})
	if _, _, err := nomad.Jobs().Register(pingapp, nil); err != nil {
		t.Fatalf("register pingapp: %v", err)
	}

	addr := map[string]string{}
	for _, svc := range []string{Prometheus, Alertmanager, NodeExporter, "pingapp"} {
		devstacktest.Eventually(t, 2*time.Minute, svc+" passing in consul", func() error {
			entries, _, err := consul.Health().Service(svc, "", true, nil)
			if err != nil {
				return err
			}
			if len(entries) != 1 || entries[0].Checks.AggregatedStatus() != consulapi.HealthPassing {
				return fmt.Errorf("%d passing instances; allocations: %s", len(entries), allocSummary(nomad))
			}
			addr[svc] = fmt.Sprintf("http://%s:%d", entries[0].Service.Address, entries[0].Service.Port)
			return nil
		})
	}
	prom, am := addr[Prometheus], addr[Alertmanager]

	t.Run("prometheus scrapes pingapp found through consul", func(t *testing.T) {
		devstacktest.Eventually(t, time.Minute, "pingapp target up", func() error {
			tg, err := targets(prom)
			if err != nil {
				return err
			}
			for _, x := range tg {
				if x.Labels["job"] == "pingapp" {
					if x.Health != "up" || x.Labels["app"] != "pingapp" || x.Labels["version"] != "it-1" || x.Labels["alloc_id"] == "" {
						return fmt.Errorf("pingapp target %+v", x)
					}
					return nil
				}
			}
			return fmt.Errorf("no pingapp target among %d", len(tg))
		})
		devstacktest.Eventually(t, time.Minute, "node-exporter, nomad, prometheus and alertmanager targets up", func() error {
			tg, err := targets(prom)
			if err != nil {
				return err
			}
			up := map[string]bool{}
			for _, x := range tg {
				up[x.Labels["job"]] = up[x.Labels["job"]] || x.Health == "up"
			}
			for _, job := range []string{NodeExporter, "nomad", Prometheus, Alertmanager} {
				if !up[job] {
					return fmt.Errorf("job %s has no target up", job)
				}
			}
			return nil
		})
		tg, _ := targets(prom)
		for _, x := range tg {
			t.Logf("target job=%s instance=%s health=%s %s", x.Labels["job"], x.Labels["instance"], x.Health, x.LastError)
		}
		// pingapp's own metric, with the labels the rules group by.
		devstacktest.Eventually(t, 30*time.Second, "pingapp metrics queryable", func() error {
			n, err := query(prom, `count(pingapp_build_info{app="pingapp", version="it-1"})`)
			if err != nil {
				return err
			}
			if n != 1 {
				return fmt.Errorf("count = %v", n)
			}
			return nil
		})
	})

	t.Run("InstanceDown reaches alertmanager when pingapp stops", func(t *testing.T) {
		// Pending from before Prometheus found pingapp, it clears once
		// pingapp is scraped.
		devstacktest.Eventually(t, 30*time.Second, "no InstanceDown while pingapp runs", func() error {
			n, err := query(prom, `count(ALERTS{alertname="InstanceDown", app="pingapp"})`)
			if err == nil && n != 0 {
				err = fmt.Errorf("%v InstanceDown alerts", n)
			}
			return err
		})
		if _, _, err := nomad.Jobs().Deregister("pingapp", false, nil); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		// Deregistration (after shutdown_delay), the template
		// re-rendering the target file, a scrape, the 10s "for" and an
		// evaluation: well under a minute.
		devstacktest.Eventually(t, 90*time.Second, "InstanceDown in alertmanager", func() error {
			alerts, err := amAlerts(am)
			if err != nil {
				return err
			}
			for _, a := range alerts {
				if a.Labels["alertname"] == "InstanceDown" && a.Labels["app"] == "pingapp" {
					if a.Labels["severity"] != "critical" {
						return fmt.Errorf("labels %v", a.Labels)
					}
					return nil
				}
			}
			return fmt.Errorf("%d alerts, none InstanceDown for pingapp", len(alerts))
		})
		t.Logf("InstanceDown in Alertmanager %v after the job was stopped", time.Since(stopped).Round(time.Second))

		devstacktest.Eventually(t, 30*time.Second, "InstanceDown posted to the webhook from Vault", func() error {
			if !hook.received("InstanceDown") {
				return fmt.Errorf("webhook has not received InstanceDown")
			}
			return nil
		})
	})

	t.Run("secrets are only in the alloc's secrets dir", func(t *testing.T) {
		allocs, _, err := nomad.Jobs().Allocations(Alertmanager, false, nil)
		if err != nil || len(allocs) == 0 {
			t.Fatalf("allocations %v %v", allocs, err)
		}
		secrets := filepath.Join(s.AllocDir(allocs[0].ID), Alertmanager, "secrets")
		read := func(name string) string {
			t.Helper()
			p := filepath.Join(secrets, name)
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, %v", name, fi.Mode(), err)
			}
			return string(b)
		}
		cfg := read("alertmanager.yml")
		host, _ := os.Hostname()
		for _, want := range []string{
			"url: " + jsonQuote(hook.url),
			"api_url_file: " + filepath.Join(secrets, "chat.slack-url"),
			"smarthost: 127.0.0.1:25",
			"from: alertmanager@" + host,
		} {
			if !strings.Contains(cfg, want) {
				t.Errorf("rendered alertmanager.yml lacks %q:\n%s", want, cfg)
			}
		}
		if got := read("chat.slack-url"); got != "https://hooks.slack.example/services/T0/B0/it-slack-secret" {
			t.Errorf("slack URL file = %q", got)
		}
	})
}

// jsonQuote is how toJSON writes a plain string.
func jsonQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// webhook is an Alertmanager webhook receiver.
type webhook struct {
	url string
	mu  sync.Mutex
	got []string // alertnames
}

func newWebhook(t *testing.T) *webhook {
	w := &webhook{}
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var msg struct {
			Alerts []struct{ Labels map[string]string }
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(rw, err.Error(), http.StatusBadRequest)
			return
		}
		w.mu.Lock()
		for _, a := range msg.Alerts {
			w.got = append(w.got, a.Labels["alertname"])
		}
		w.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	// A path and query like a real webhook's; the test matches on them.
	w.url = srv.URL + "/hooks/it?token=webhook-secret"
	return w
}

func (w *webhook) received(alertname string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range w.got {
		if a == alertname {
			return true
		}
	}
	return false
}

type target struct {
	Labels    map[string]string
	Health    string
	LastError string
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %s: %s", u, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

func targets(prom string) ([]target, error) {
	var r struct {
		Data struct{ ActiveTargets []target }
	}
	err := getJSON(prom+"/api/v1/targets?state=active", &r)
	return r.Data.ActiveTargets, err
}

// query returns the value of an instant query with one result, 0 for none.
func query(prom, q string) (float64, error) {
	var r struct {
		Data struct {
			Result []struct{ Value [2]any }
		}
	}
	if err := getJSON(prom+"/api/v1/query?query="+url.QueryEscape(q), &r); err != nil {
		return 0, err
	}
	if len(r.Data.Result) == 0 {
		return 0, nil
	}
	var f float64
	_, err := fmt.Sscan(fmt.Sprint(r.Data.Result[0].Value[1]), &f)
	return f, err
}

type amAlert struct {
	Labels map[string]string
}

func amAlerts(am string) ([]amAlert, error) {
	var alerts []amAlert
	err := getJSON(am+"/api/v2/alerts", &alerts)
	return alerts, err
}

func allocSummary(nomad *nomadapi.Client) string {
	allocs, _, err := nomad.Allocations().List(nil)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, a := range allocs {
		p := a.JobID + " " + a.ID[:8] + " " + a.ClientStatus
		for name, ts := range a.TaskStates {
			if n := len(ts.Events); n > 0 {
				p += fmt.Sprintf(" [%s: %s %s]", name, ts.Events[n-1].Type, ts.Events[n-1].DisplayMessage)
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}
