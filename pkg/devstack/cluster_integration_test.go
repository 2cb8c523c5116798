package devstack_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// TestClusterBootsAndReleasesAcrossZones boots the loopback cluster of
// `hstack dev up --cluster` (3 servers, 2 clients), checks that each
// product runs one Raft group of the three servers with one leader, that
// Vault issues database credentials through it, and releases pingapp
// twice (a canary promoted automatically) spread over the clients' zones.
func TestClusterBootsAndReleasesAcrossZones(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a 5-node cluster of Nomad, Consul and Vault")
	}
	s := devstacktest.Start(t, devstacktest.Cluster(2))
	ctx := context.Background()
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}

	var serverHosts []string
	for _, n := range s.Nodes() {
		if n.Server {
			serverHosts = append(serverHosts, n.Address)
		}
	}
	t.Run("three raft peers in each product", func(t *testing.T) {
		peers, err := s.RaftPeers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, product := range []string{devstack.Consul, devstack.Nomad, devstack.Vault} {
			got := append([]string(nil), peers[product]...)
			sort.Strings(got)
			var hosts []string
			for _, a := range got {
				hosts = append(hosts, strings.Split(a, ":")[0])
			}
			if strings.Join(hosts, ",") != strings.Join(serverHosts, ",") {
				t.Errorf("%s raft voters %v, want the three servers", product, got)
			}
			t.Logf("%s raft voters: %v", product, got)
		}
	})

	t.Run("status: one leader per product, every agent healthy", func(t *testing.T) { checkClusterStatus(t, s) })

	t.Run("clients carry their zones and port ranges", func(t *testing.T) {
		nodes, _, err := nomad.Nodes().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		zones := map[string]string{}
		var ranges [][2]int
		for _, n := range nodes {
			info, _, err := nomad.Nodes().Info(n.ID, nil)
			if err != nil {
				t.Fatal(err)
			}
			zones[n.Name] = info.Meta["zone"]
			r := [2]int{info.NodeResources.MinDynamicPort, info.NodeResources.MaxDynamicPort}
			for _, o := range ranges {
				if r[0] <= o[1] && o[0] <= r[1] {
					t.Errorf("%s's dynamic ports %v overlap another client's %v", n.Name, r, o)
				}
			}
			ranges = append(ranges, r)
		}
		if fmt.Sprint(zones) != "map[client-1:zone-a client-2:zone-b]" {
			t.Errorf("client zones %v", zones)
		}
		t.Logf("zones %v, dynamic port ranges %v", zones, ranges)
	})

	t.Run("up again is a no-op", func(t *testing.T) { checkClusterUpAgain(t, s, false) })

	t.Run("pingapp released across zones", func(t *testing.T) { releasePingappAcrossZones(t, s, nomad, consul) })
}

// checkClusterStatus: `dev status` shows every agent running and
// healthy, one leader and two followers per product, two clients.
func checkClusterStatus(t *testing.T, s *devstack.Stack) {
	t.Helper()
	roles := map[string]map[string]int{}
	for _, st := range s.Status(context.Background()) {
		if !st.Running || !st.Healthy {
			t.Errorf("%s: running=%v healthy=%v %s", st.Name, st.Running, st.Healthy, st.Detail)
		}
		if st.Name == "vault-lb" {
			// dev status names the front door it also is.
			if want := "the clients' ingress at http://" + s.Nodes()[0].Address[:strings.LastIndex(s.Nodes()[0].Address, ".")] + ".10:8080"; !strings.Contains(st.Role, want) {
				t.Errorf("vault-lb: %q, want it to name %q", st.Role, want)
			}
		}
		if !strings.Contains(st.Name, "/") {
			continue // postgres, the Vault and ingress load balancer
		}
		product := st.Name[strings.Index(st.Name, "/")+1:]
		if roles[product] == nil {
			roles[product] = map[string]int{}
		}
		if f := strings.Fields(st.Role); len(f) > 0 {
			roles[product][f[0]]++
		}
	}
	want := map[string]map[string]int{
		devstack.Consul: {"leader": 1, "follower": 2, "client": 2},
		devstack.Nomad:  {"leader": 1, "follower": 2, "client": 2},
		devstack.Vault:  {"active": 1, "standby": 2},
	}
	if fmt.Sprint(roles) != fmt.Sprint(want) {
		t.Errorf("roles %v, want %v", roles, want)
	}
}

// checkClusterUpAgain: `dev up --cluster [--secure]` on the running
// cluster changes no process.
func checkClusterUpAgain(t *testing.T, s *devstack.Stack, secure bool) {
	t.Helper()
	before := s.Processes()
	again, err := devstack.Up(context.Background(), devstack.Options{Dir: s.Dir, Cluster: true, Clients: 2, Secure: secure, ClusterNet: os.Getenv("HSTACK_CLUSTER_NET"), Timeout: 3 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if after := again.Processes(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("processes changed: %v -> %v", before, after)
	}
}

// releasePingappAcrossZones releases pingapp v1 then v2 (a canary promoted
// automatically), two instances spread over the clients' zones, each
// answering /ping after a round trip to Postgres with credentials Vault
// issued to its workload identity.
func releasePingappAcrossZones(t *testing.T, s *devstack.Stack, nomad *nomadapi.Client, consul *consulapi.Client) {
	t.Helper()
	bin := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	release := func(version string) {
		t.Helper()
		job := devstacktest.ParsePingappJob(t, nomad, map[string]string{
			"pingapp_bin":   bin,
			"database_port": fmt.Sprint(s.Ports.Postgres),
			"count":         "2",
			"version":       version,
		})
		// The placement is hstack render's for spread_across_zones;
		// the clients' zones are the provisioning's node meta.
		job.TaskGroups[0].Spreads = renderedSpread(t)
		job.TaskGroups[0].Update = &nomadapi.UpdateStrategy{
			MaxParallel: ptr(1), Canary: ptr(1), AutoPromote: ptr(true),
			MinHealthyTime: ptr(2 * time.Second), HealthyDeadline: ptr(2 * time.Minute), ProgressDeadline: ptr(4 * time.Minute),
		}
		resp, _, err := nomad.Jobs().Register(job, nil)
		if err != nil {
			t.Fatalf("register %s: %v", version, err)
		}
		devstacktest.Eventually(t, 5*time.Minute, "release of "+version, func() error {
			deps, _, err := nomad.Jobs().Deployments("pingapp", false, nil)
			if err != nil {
				return err
			}
			for _, d := range deps {
				if d.JobModifyIndex != resp.JobModifyIndex {
					continue
				}
				switch d.Status {
				case nomadapi.DeploymentStatusSuccessful:
					return nil
				case nomadapi.DeploymentStatusRunning, nomadapi.DeploymentStatusPending, nomadapi.DeploymentStatusBlocked, nomadapi.DeploymentStatusPaused:
					return fmt.Errorf("deployment %s: %s", d.Status, allocSummary(nomad))
				default:
					t.Fatalf("deployment of %s ended %s: %s (%s)", version, d.Status, d.StatusDescription, allocSummary(nomad))
				}
			}
			if version == "v1" {
				// The first version of a job has no canary to wait for.
				return runningZones(nomad, version, nil)
			}
			return fmt.Errorf("no deployment for job modify index %d yet", resp.JobModifyIndex)
		})
		zones := map[string]bool{}
		devstacktest.Eventually(t, 2*time.Minute, version+" on both zones", func() error {
			return runningZones(nomad, version, zones)
		})
		devstacktest.Eventually(t, 2*time.Minute, version+" passing in consul and answering", func() error {
			entries, _, err := consul.Health().Service("pingapp", "version-"+version, true, nil)
			if err != nil {
				return err
			}
			if len(entries) != 2 {
				return fmt.Errorf("%d passing instances of %s", len(entries), version)
			}
			for _, e := range entries {
				if e.Checks.AggregatedStatus() != consulapi.HealthPassing {
					return fmt.Errorf("%s checks %s", e.Service.ID, e.Checks.AggregatedStatus())
				}
				body, err := get(fmt.Sprintf("http://%s:%d/ping", e.Service.Address, e.Service.Port))
				if err != nil {
					return err
				}
				if !strings.Contains(body, "pong") {
					return fmt.Errorf("/ping answered %q", body)
				}
			}
			return nil
		})
		t.Logf("%s: running on zones %v, answering /ping after a round trip to Postgres with Vault credentials", version, zones)
	}
	release("v1")
	release("v2")
}

// renderedSpread is what `hstack render` puts in an app's group for
// spread_across_zones = true, in the dev environment of a raw_exec stack
// like the cluster's (jobs/pingapp.nomad.hcl stays the job's body: it is
// wired to the dev PostgreSQL by variables).
func renderedSpread(t *testing.T) []*nomadapi.Spread {
	t.Helper()
	st, diags := stackfile.Parse([]byte(`stack "zones" {
  datacenters = ["dc1"]
}
app "pingapp" {
  driver              = "raw_exec"
  command             = "/bin/true"
  count               = 2
  spread_across_zones = true
  port "http" {}
}
`), "zones.hcl", stackfile.LoadOptions{Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	jobs, err := render.Render(st, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Name == "pingapp" {
			if sp := j.Job.TaskGroups[0].Spreads; len(sp) > 0 {
				return sp
			}
		}
	}
	t.Fatalf("hstack render gave pingapp no spread for spread_across_zones")
	return nil
}

// runningZones is nil when exactly two allocations of version run, on
// clients of two different zones (recorded in zones when non-nil).
func runningZones(nomad *nomadapi.Client, version string, zones map[string]bool) error {
	allocs, _, err := nomad.Jobs().Allocations("pingapp", false, nil)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, a := range allocs {
		if a.ClientStatus != nomadapi.AllocClientStatusRunning || a.DesiredStatus != nomadapi.AllocDesiredStatusRun {
			continue
		}
		full, _, err := nomad.Allocations().Info(a.ID, nil)
		if err != nil {
			return err
		}
		if full.Job.Meta["version"] != version {
			continue
		}
		node, _, err := nomad.Nodes().Info(a.NodeID, nil)
		if err != nil {
			return err
		}
		seen[node.Meta["zone"]] = true
	}
	if len(seen) != 2 {
		return fmt.Errorf("%s runs in zones %v, want two", version, seen)
	}
	for z := range seen {
		if zones != nil {
			zones[z] = true
		}
	}
	return nil
}

func get(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s %s", url, resp.Status, b)
	}
	return string(b), err
}

func ptr[T any](v T) *T { return &v }

// BenchmarkClusterBoot is the time `hstack dev up --cluster` takes to boot
// 3 servers and 2 clients, wired, with the binaries built (warm), and the
// resident memory of its processes once up.
func BenchmarkClusterBoot(b *testing.B) {
	devstacktest.RequireTools(b)
	for i := 0; i < b.N; i++ {
		dir, err := os.MkdirTemp("", "hstack-cluster-bench-")
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		s, err := devstack.Up(context.Background(), devstack.Options{Dir: dir, Cluster: true, Clients: 2, ClusterNet: os.Getenv("HSTACK_CLUSTER_NET"), Timeout: 3 * time.Minute})
		if err != nil {
			devstacktest.DumpLogs(b, dir)
			_ = os.RemoveAll(dir) // best effort: the failure to report is the one below
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/boot")
		var rss int64
		for _, pid := range s.Processes() {
			rss += devstack.RSS(pid)
		}
		b.ReportMetric(float64(rss)/(1<<20), "MB-rss")
		if err := s.Down(context.Background()); err != nil {
			b.Error(err)
		}
		_ = os.RemoveAll(dir) // best effort, like t.TempDir's own cleanup
	}
}
