package devstack_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// TestDevStackRunsPingapp boots a real stack and proves the wiring issue #2
// asks for, ending with pingapp running as a Nomad job whose database
// credentials come from Vault through workload identity.
func TestDevStackRunsPingapp(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	ctx := context.Background()
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

	t.Run("nomad node ready with raw_exec", func(t *testing.T) {
		nodes, _, err := nomad.Nodes().List(nil)
		if err != nil || len(nodes) != 1 {
			t.Fatalf("nodes = %v, %v", nodes, err)
		}
		n := nodes[0]
		if n.Status != nomadapi.NodeStatusReady {
			t.Errorf("node status %q", n.Status)
		}
		if d := n.Drivers["raw_exec"]; d == nil || !d.Detected || !d.Healthy {
			t.Errorf("raw_exec driver: %+v", d)
		}
	})

	t.Run("nomad registered in consul", func(t *testing.T) {
		for _, svc := range []string{"nomad", "nomad-client"} {
			devstacktest.Eventually(t, 30*time.Second, svc+" passing in consul", func() error {
				entries, _, err := consul.Health().Service(svc, "", true, nil)
				if err != nil {
					return err
				}
				if len(entries) == 0 {
					return fmt.Errorf("no passing instance of %s", svc)
				}
				return nil
			})
		}
	})

	t.Run("vault unsealed and reachable from nomad", func(t *testing.T) {
		h, err := vault.Sys().Health()
		if err != nil || h.Sealed || !h.Initialized {
			t.Fatalf("vault health %+v, %v", h, err)
		}
		self, err := nomad.Agent().Self()
		if err != nil {
			t.Fatal(err)
		}
		var cfg struct {
			Vaults []struct {
				Enabled *bool
				Addr    string
			}
		}
		b, _ := json.Marshal(self.Config)
		if err := json.Unmarshal(b, &cfg); err != nil {
			t.Fatal(err)
		}
		if len(cfg.Vaults) == 0 || cfg.Vaults[0].Addr != s.VaultAddr() {
			t.Fatalf("nomad's vault config = %+v, want address %s", cfg.Vaults, s.VaultAddr())
		}
		// The client fingerprints Vault: proof that Nomad itself reaches it.
		devstacktest.Eventually(t, 30*time.Second, "nomad node fingerprints vault", func() error {
			nodes, _, err := nomad.Nodes().List(nil)
			if err != nil {
				return err
			}
			n, _, err := nomad.Nodes().Info(nodes[0].ID, nil)
			if err != nil {
				return err
			}
			if n.Attributes["vault.accessible"] != "true" {
				return fmt.Errorf("vault.accessible = %q", n.Attributes["vault.accessible"])
			}
			return nil
		})
	})

	t.Run("postgres accepts vault-issued credentials", func(t *testing.T) {
		secret, err := vault.Logical().Read("database/creds/pingapp")
		if err != nil {
			t.Fatal(err)
		}
		user, _ := secret.Data["username"].(string)
		pass, _ := secret.Data["password"].(string)
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=disable", s.Ports.Postgres))
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Password = user, pass
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatalf("login as vault-issued user %s: %v", user, err)
		}
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil || one != 1 {
			t.Errorf("SELECT 1 = %d, %v", one, err)
		}
		_ = conn.Close(ctx) // cleanup: the assertions are done
	})

	t.Run("pingapp as a nomad job", func(t *testing.T) {
		bin := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
		job := devstacktest.ParsePingappJob(t, nomad, map[string]string{
			"pingapp_bin":   bin,
			"database_port": fmt.Sprint(s.Ports.Postgres),
		})
		assertNoPassword(t, job)

		if _, _, err := nomad.Jobs().Register(job, nil); err != nil {
			t.Fatalf("register: %v", err)
		}

		var addr string
		devstacktest.Eventually(t, 90*time.Second, "pingapp passing in consul", func() error {
			entries, _, err := consul.Health().Service("pingapp", "", true, nil)
			if err != nil {
				return err
			}
			if len(entries) != 1 {
				return fmt.Errorf("%d passing instances: %s", len(entries), allocSummary(nomad))
			}
			e := entries[0]
			if e.Checks.AggregatedStatus() != consulapi.HealthPassing {
				return fmt.Errorf("checks %s", e.Checks.AggregatedStatus())
			}
			addr = fmt.Sprintf("%s:%d", e.Service.Address, e.Service.Port)
			return nil
		})

		resp, err := http.Get("http://" + addr + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close() // the test has what it needs from the response
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "pong" {
			t.Fatalf("/ping = %d %q", resp.StatusCode, body)
		}

		// The credentials reached the task only as a file in its secrets
		// dir, rendered from Vault: not in the job, not in its environment.
		allocs, _, err := nomad.Jobs().Allocations("pingapp", false, nil)
		if err != nil || len(allocs) != 1 {
			t.Fatalf("allocations %v %v", allocs, err)
		}
		alloc, _, err := nomad.Allocations().Info(allocs[0].ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		conn := readSecretsFile(t, s.AllocDir(alloc.ID))
		if !strings.Contains(conn, "password=") || !strings.Contains(conn, "user=v-") {
			t.Fatal("rendered credentials file does not hold a Vault-issued user and password")
		}
		pw := fieldOf(conn, "password")
		jobJSON, _ := json.Marshal(alloc.Job)
		if strings.Contains(string(jobJSON), pw) {
			t.Error("the database password appears in the job")
		}
		env, _ := os.ReadFile(filepath.Join(s.AllocDir(alloc.ID), "pingapp", "secrets", "env"))
		if pw != "" && strings.Contains(string(env), pw) {
			t.Error("the database password appears in the task environment")
		}
		pid := taskPID(t, bin)

		if _, _, err := nomad.Jobs().Deregister("pingapp", false, nil); err != nil {
			t.Fatal(err)
		}
		devstacktest.Eventually(t, 60*time.Second, "pingapp allocation stopped", func() error {
			a, _, err := nomad.Allocations().Info(alloc.ID, nil)
			if err != nil {
				return err
			}
			if a.ClientStatus != nomadapi.AllocClientStatusComplete {
				return fmt.Errorf("client status %s", a.ClientStatus)
			}
			return nil
		})
		devstacktest.Eventually(t, 30*time.Second, "pingapp process exited", func() error {
			if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
				return fmt.Errorf("pid %d still running", pid)
			}
			return nil
		})
		devstacktest.Eventually(t, 30*time.Second, "pingapp deregistered from consul", func() error {
			entries, _, err := consul.Catalog().Service("pingapp", "", nil)
			if err != nil {
				return err
			}
			if len(entries) != 0 {
				return fmt.Errorf("%d instances still registered", len(entries))
			}
			return nil
		})
		// A clean stop, not a kill: pingapp drained and exited 0.
		final, _, err := nomad.Allocations().Info(alloc.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range final.TaskStates["pingapp"].Events {
			if ev.Type == nomadapi.TaskTerminated && ev.ExitCode != 0 {
				t.Errorf("pingapp exited with code %d: %s", ev.ExitCode, ev.DisplayMessage)
				// The flake seen here (about 1 run in 11 under a full CI
				// run, never in 20 runs alone) is Nomad's executor plugin
				// gone while pingapp drained ("executor: error waiting on
				// process: ... EOF"). Its own log and the task's events are
				// in the alloc dir, which the test's cleanup removes: show
				// them now, so the next occurrence says what ended it.
				t.Logf("executor.out of the task:\n%s", devstacktest.Tail(filepath.Join(s.AllocDir(alloc.ID), "pingapp", "executor.out"), 60))
				for _, e := range final.TaskStates["pingapp"].Events {
					t.Logf("task event %s %s: %s", time.Unix(0, e.Time).UTC().Format("15:04:05.000"), e.Type, e.DisplayMessage)
				}
			}
		}
	})
}

func assertNoPassword(t *testing.T, job *nomadapi.Job) {
	t.Helper()
	for _, tg := range job.TaskGroups {
		for _, task := range tg.Tasks {
			for k := range task.Env {
				if strings.Contains(strings.ToLower(k), "password") || k == "DATABASE_URL" {
					t.Errorf("task %s has %s in its env", task.Name, k)
				}
			}
			if task.Vault == nil {
				t.Errorf("task %s has no vault block", task.Name)
			}
		}
	}
}

func allocSummary(nomad *nomadapi.Client) string {
	allocs, _, err := nomad.Jobs().Allocations("pingapp", true, nil)
	if err != nil {
		return err.Error()
	}
	var parts []string
	for _, a := range allocs {
		p := a.ID[:8] + " " + a.ClientStatus
		for name, ts := range a.TaskStates {
			if n := len(ts.Events); n > 0 {
				p += fmt.Sprintf(" [%s: %s %s]", name, ts.Events[n-1].Type, ts.Events[n-1].DisplayMessage)
			}
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

func readSecretsFile(t *testing.T, allocDir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(allocDir, "pingapp", "secrets", "database.conn"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func fieldOf(conn, key string) string {
	for _, f := range strings.Fields(conn) {
		if k, v, ok := strings.Cut(f, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// taskPID finds the running process of a binary.
func taskPID(t *testing.T, bin string) int {
	t.Helper()
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && exe == bin {
			var pid int
			_, _ = fmt.Sscan(e.Name(), &pid) // a /proc entry with an exe link is a process ID
			return pid
		}
	}
	t.Fatalf("no process runs %s", bin)
	return 0
}
