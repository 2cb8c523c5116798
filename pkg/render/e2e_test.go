package render

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// TestDevEnvironmentEndToEnd runs every job the example stack file renders
// for `--env dev` (pingapp, the HAProxy ingress, Prometheus, Alertmanager,
// node-exporter) on a real dev stack, set up only through the file's own
// variables, and follows a request and an alert through all of it.
func TestDevEnvironmentEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
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
	ingressPort := freePort(t)
	bin := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	st, diags := stackfile.Load(exampleFile, stackfile.LoadOptions{
		Env: "dev",
		Vars: []string{
			"pingapp_bin=" + bin,
			fmt.Sprintf("database_port=%d", s.Ports.Postgres),
			fmt.Sprintf("ingress_port=%d", ingressPort),
		},
		Getenv: func(string) string { return "" },
	})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	jobs := mustRender(t, st, devstackOptions(s))
	syncConfig(t, s, st)
	var names []string
	for _, j := range jobs {
		names = append(names, j.Name)
		if _, _, err := nomad.Jobs().Register(j.Job, nil); err != nil {
			t.Fatalf("register %s: %v", j.Name, err)
		}
	}
	for _, want := range []string{"pingapp", "shop-ingress", "prometheus", "alertmanager"} {
		if !strings.Contains(" "+strings.Join(names, " ")+" ", " "+want+" ") {
			t.Fatalf("rendered jobs %v lack %s", names, want)
		}
	}

	t.Run("ping through the ingress", func(t *testing.T) {
		url := fmt.Sprintf("http://127.0.0.1:%d/ping", ingressPort)
		devstacktest.Eventually(t, 2*time.Minute, "pong through the ingress", func() error {
			body, code, err := get(url)
			if err != nil {
				return err
			}
			if code != http.StatusOK || strings.TrimSpace(body) != "pong" {
				return fmt.Errorf("GET %s = %d %q; %s", url, code, body, allocStates(nomad))
			}
			return nil
		})
	})

	prometheus := serviceAddr(t, consul, "prometheus")
	t.Run("prometheus scrapes pingapp found through consul", func(t *testing.T) {
		devstacktest.Eventually(t, 2*time.Minute, "pingapp target up", func() error {
			body, _, err := get("http://" + prometheus + "/api/v1/targets?state=active")
			if err != nil {
				return err
			}
			var r struct {
				Data struct {
					ActiveTargets []struct {
						Labels map[string]string `json:"labels"`
						Health string            `json:"health"`
					} `json:"activeTargets"`
				} `json:"data"`
			}
			if err := json.Unmarshal([]byte(body), &r); err != nil {
				return err
			}
			for _, tg := range r.Data.ActiveTargets {
				if tg.Labels["app"] == "pingapp" && tg.Health == "up" {
					return nil
				}
			}
			return fmt.Errorf("no pingapp target up among %d", len(r.Data.ActiveTargets))
		})
	})

	alertmanager := serviceAddr(t, consul, "alertmanager")
	t.Run("stopping pingapp fires InstanceDown in alertmanager", func(t *testing.T) {
		if _, _, err := nomad.Jobs().Deregister("pingapp", false, nil); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		// In dev the rule's `for` is max(10s, 2 x scrape interval); the
		// bound leaves room for scrapes and rule evaluation on a busy
		// machine.
		devstacktest.Eventually(t, 3*time.Minute, "InstanceDown in alertmanager", func() error {
			body, _, err := get("http://" + alertmanager + "/api/v2/alerts?active=true")
			if err != nil {
				return err
			}
			var alerts []struct {
				Labels map[string]string `json:"labels"`
			}
			if err := json.Unmarshal([]byte(body), &alerts); err != nil {
				return err
			}
			for _, a := range alerts {
				if a.Labels["alertname"] == "InstanceDown" && a.Labels["app"] == "pingapp" {
					return nil
				}
			}
			return fmt.Errorf("%d active alerts, no InstanceDown for pingapp", len(alerts))
		})
		t.Logf("InstanceDown reached Alertmanager %v after pingapp was stopped", time.Since(stopped).Round(time.Second))
	})
}

func get(url string) (string, int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, err
}

// serviceAddr waits for a passing instance of a Consul service.
func serviceAddr(t *testing.T, consul *consulapi.Client, name string) string {
	t.Helper()
	var addr string
	devstacktest.Eventually(t, 2*time.Minute, name+" passing in consul", func() error {
		entries, _, err := consul.Health().Service(name, "", true, nil)
		if err != nil {
			return err
		}
		if len(entries) == 0 {
			return fmt.Errorf("no passing %s", name)
		}
		addr = fmt.Sprintf("%s:%d", entries[0].Service.Address, entries[0].Service.Port)
		return nil
	})
	return addr
}
