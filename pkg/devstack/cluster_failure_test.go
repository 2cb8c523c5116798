package devstack_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-cleanhttp"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/failover"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// TestClusterSurvivesFailures runs pingapp on the loopback cluster and
// breaks the cluster under it, one failure after another (each healed
// before the next), reporting what it measured.
func TestClusterSurvivesFailures(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots a 5-node cluster and kills parts of it")
	}
	s := devstacktest.Start(t, devstacktest.Cluster(2))
	ctx := context.Background()
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	// hstack's Nomad client as `hstack deploy` builds it on a cluster: all
	// three servers (HSTACK_NOMAD_ADDRS), here with a hook that tells how
	// long it was blind.
	var blindMu sync.Mutex
	var blind time.Duration
	var servers []*url.URL
	for _, n := range s.Nodes() {
		if n.Server {
			u, _ := url.Parse(s.NodeAddr(n, devstack.Nomad))
			servers = append(servers, u)
		}
	}
	hc := cleanhttp.DefaultPooledClient()
	hc.Transport = &failover.Transport{Base: hc.Transport, Servers: servers, WritesIdempotent: true, Recovered: func(d time.Duration, srv string) {
		blindMu.Lock()
		if d > blind {
			blind = d
		}
		blindMu.Unlock()
		t.Logf("nomad client: answered by %s after %v without an answer", srv, d.Round(time.Millisecond))
	}}
	nomad, err := nomadapi.NewClient(&nomadapi.Config{Address: servers[0].String(), HttpClient: hc})
	if err != nil {
		t.Fatal(err)
	}
	bin := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	hstack := devstacktest.BuildBinary(t, "./cmd/hstack", s.Dir)
	job := func(version string) *nomadapi.Job {
		j := devstacktest.ParsePingappJob(t, nomad, map[string]string{
			"pingapp_bin": bin, "database_port": fmt.Sprint(s.Ports.Postgres), "count": "2", "version": version,
		})
		tg := j.TaskGroups[0]
		tg.Spreads = renderedSpread(t)
		tg.Update = &nomadapi.UpdateStrategy{
			MaxParallel: ptr(1), Canary: ptr(1), MinHealthyTime: ptr(2 * time.Second),
			HealthyDeadline: ptr(2 * time.Minute), ProgressDeadline: ptr(5 * time.Minute), AutoRevert: ptr(true), HealthCheck: ptr("checks"),
		}
		j.Update = nil
		return j
	}
	deploy := func(j *nomadapi.Job, gate rollout.Gate) rollout.Result {
		t.Helper()
		dctx, cancel := context.WithTimeout(ctx, 8*time.Minute)
		defer cancel()
		res, err := rollout.Deploy(dctx, nomad, j, rollout.Options{AutoPromote: true, Gate: gate, Sink: rollout.SinkFunc(func(e rollout.Event) {
			t.Logf("release: %s %s v%d %s", e.Type, e.Status, e.JobVersion, firstLine(e.Message))
		})})
		if err != nil {
			t.Fatalf("deploy %s: %v", j.Meta["version"], err)
		}
		return res
	}
	if res := deploy(job("v1"), nil); res.Outcome != rollout.Succeeded {
		t.Fatalf("v1: %s", res.Outcome)
	}
	waitServing(t, consul, "v1", 2)
	// The stack's ingress, rendered from the repository's stack file as
	// `hstack render` renders it: a HAProxy on every client, on the
	// client's own address, behind the cluster's front load balancer
	// (production's ALB). The load of every subtest goes through both.
	ingress := deployIngress(t, nomad)
	front := ""
	for _, kv := range s.Env() {
		if kv[0] == devstack.EnvIngressAddr {
			front = kv[1]
		}
	}
	if front == "" {
		t.Fatalf("dev.env has no %s", devstack.EnvIngressAddr)
	}
	waitIngresses(t, s, consul, ingress)
	t.Logf("ingress %s passing on %v; front load balancer %s", ingress, ingressNodes(consul, ingress), front)
	devstacktest.Eventually(t, time.Minute, "pingapp through the front load balancer", func() error {
		_, err := get(front + "/ping")
		return err
	})

	t.Run("nomad leader killed mid canary release", func(t *testing.T) {
		waitIngresses(t, s, consul, ingress)
		load := startLoad(t, front, 50)
		var killedAt time.Time
		var leader devstack.Node
		var electedCh <-chan election
		gate := gateFunc(func(ctx context.Context, d *nomadapi.Deployment) (rollout.Verdict, string, error) {
			if killedAt.IsZero() {
				var err error
				if leader, err = s.LeaderNode(ctx, devstack.Nomad); err != nil {
					return rollout.Fail, "", err
				}
				if _, err := s.KillAgent(leader.Name + "/" + devstack.Nomad); err != nil {
					return rollout.Fail, "", err
				}
				killedAt = time.Now()
				electedCh = watchNewLeader(s, devstack.Nomad, leader, killedAt)
				t.Logf("SIGKILLed the Nomad leader on %s during the canary's analysis", leader.Name)
			}
			// The analysis itself: the canary answers through Consul.
			if err := answering(consul, "v2"); err != nil {
				return rollout.Fail, err.Error(), nil
			}
			return rollout.Pass, "canary answers /ping", nil
		})
		res := deploy(job("v2"), gate)
		if res.Outcome != rollout.Succeeded {
			t.Fatalf("release ended %s, want %s as without the failure", res.Outcome, rollout.Succeeded)
		}
		var elected election
		select {
		case elected = <-electedCh:
		case <-time.After(2 * time.Minute):
			t.Fatal("no new Nomad leader within 2 minutes of the kill")
		}
		if elected.node.Name == "" {
			t.Fatal("no new Nomad leader seen")
		}
		waitServing(t, consul, "v2", 2)
		sent, failed := load.stop()
		t.Logf("failed requests: %s", load.why())
		blindMu.Lock()
		t.Logf("MEASURED nomad leader kill: new leader %s elected %v after the kill; hstack's client blind for at most %v; release %s; %d requests at 50/s through the ingress, %d failed",
			elected.node.Name, elected.after.Round(time.Millisecond), blind.Round(time.Millisecond), res.Outcome, sent, failed)
		blindMu.Unlock()
		if failed > 0 {
			t.Errorf("%d of %d requests failed while the Nomad leader was lost mid-release", failed, sent)
		}
		// `hstack status` with the server down: it names it, and does not
		// wait on it.
		cmd := exec.Command(hstack, "status", "pingapp")
		cmd.Env = os.Environ()
		for _, kv := range s.Env() {
			cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
		}
		statusStart := time.Now()
		outb, err := cmd.CombinedOutput()
		took := time.Since(statusStart)
		if err != nil {
			t.Fatalf("hstack status: %v\n%s", err, outb)
		}
		if !strings.Contains(string(outb), leader.Address+":4646 DOWN") || !strings.Contains(string(outb), "2 of 3 up") {
			t.Errorf("hstack status does not say %s is down:\n%s", leader.Name, outb)
		}
		t.Logf("hstack status with %s down, in %v:\n%s", leader.Name, took.Round(time.Millisecond), outb)
		if err := s.RestartAgent(ctx, leader.Name+"/"+devstack.Nomad); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("consul server lost", func(t *testing.T) {
		lost, err := s.LeaderNode(ctx, devstack.Consul)
		if err != nil {
			t.Fatal(err)
		}
		waitIngresses(t, s, consul, ingress)
		load := startLoad(t, front, 50)
		if _, err := s.KillAgent(lost.Name + "/" + devstack.Consul); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		var elected election
		select {
		case elected = <-watchNewLeader(s, devstack.Consul, lost, killed):
		case <-time.After(2 * time.Minute):
			t.Fatal("no new Consul leader within 2 minutes of the kill")
		}
		kv := consul.KV()
		devstacktest.Eventually(t, 2*time.Minute, "consul kv write and read", func() error {
			if _, err := kv.Put(&consulapi.KVPair{Key: "hstack/cluster-test", Value: []byte("still here")}, nil); err != nil {
				return err
			}
			p, _, err := kv.Get("hstack/cluster-test", nil)
			if err != nil || p == nil || string(p.Value) != "still here" {
				return fmt.Errorf("kv read %v, %v", p, err)
			}
			return nil
		})
		kvAfter := time.Since(killed)
		waitServing(t, consul, "v2", 2)
		time.Sleep(5 * time.Second) // keep the load on a settled cluster for a moment
		sent, failed := load.stop()
		t.Logf("failed requests: %s", load.why())
		t.Logf("MEASURED consul server loss (%s, the leader): new leader %s after %v; KV written and read %v after the kill; %d requests at 50/s through the ingress, %d failed",
			lost.Name, elected.node.Name, elected.after.Round(time.Millisecond), kvAfter.Round(time.Millisecond), sent, failed)
		if failed > 0 {
			t.Errorf("%d of %d requests failed while a Consul server was lost", failed, sent)
		}
		if err := s.RestartAgent(ctx, lost.Name+"/"+devstack.Consul); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("vault active node killed", func(t *testing.T) {
		active, err := s.LeaderNode(ctx, devstack.Vault)
		if err != nil {
			t.Fatal(err)
		}
		waitIngresses(t, s, consul, ingress)
		load := startLoad(t, front, 50)
		if _, err := s.KillAgent(active.Name + "/" + devstack.Vault); err != nil {
			t.Fatal(err)
		}
		killed := time.Now()
		var standby election
		select {
		case standby = <-watchNewLeader(s, devstack.Vault, active, killed):
		case <-time.After(2 * time.Minute):
			t.Fatal("no standby took over within 2 minutes")
		}
		if standby.node.Name == "" {
			t.Fatal("no standby took over")
		}
		// `hstack db creds` (the real binary, dev.env's environment: every
		// server in HSTACK_VAULT_ADDRS, the first being the dead one when
		// server-1 was active). Its output is piped, so it prints no
		// password.
		root, err := devstacktest.ModuleRoot()
		if err != nil {
			t.Fatal(err)
		}
		var creds string
		devstacktest.Eventually(t, time.Minute, "hstack db creds pingapp against the cluster", func() error {
			cmd := exec.Command(hstack, "db", "creds", "pingapp", "-f", filepath.Join(root, "hstack.hcl"))
			cmd.Env = os.Environ()
			for _, kv := range s.Env() {
				cmd.Env = append(cmd.Env, kv[0]+"="+kv[1])
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%v: %s", err, out)
			}
			if !strings.Contains(string(out), "username") || !strings.Contains(string(out), "lease_id") {
				return fmt.Errorf("no credentials in %q", out)
			}
			creds = string(out)
			return nil
		})
		if strings.Contains(creds, "password\t") {
			t.Errorf("hstack db creds printed a password into a pipe")
		}
		credsTook := time.Since(killed)
		// New allocations log in to Vault and fetch their credentials
		// through the Nomad clients' Vault address (the load balancer).
		if res := deploy(job("v3"), nil); res.Outcome != rollout.Succeeded {
			t.Fatalf("v3 after the kill: %s", res.Outcome)
		}
		waitServing(t, consul, "v3", 2)
		sent, failed := load.stop()
		t.Logf("failed requests: %s", load.why())
		t.Logf("MEASURED vault active node killed (%s): %s active %v after the kill; credentials issued by hstack db creds %v after the kill; v3 released with new credentials; %d requests at 50/s through the ingress, %d failed",
			active.Name, standby.node.Name, standby.after.Round(time.Millisecond), credsTook.Round(time.Millisecond), sent, failed)
		if failed > 0 {
			t.Errorf("%d of %d requests failed while the active Vault was lost", failed, sent)
		}
		if err := s.RestartAgent(ctx, active.Name+"/"+devstack.Vault); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("client node killed", func(t *testing.T) {
		waitIngresses(t, s, consul, ingress)
		load := startLoad(t, front, 50)
		killed, err := s.KillNode("client-2")
		if err != nil {
			t.Fatal(err)
		}
		at := time.Now()
		t.Logf("SIGKILLed %v and their tasks at %s", killed, at.Format("15:04:05.000"))
		// The Consul agent of client-2 died too: its instances leave the
		// healthy set once Consul's servers see it fail (serf), and Nomad
		// reschedules once the node misses its heartbeats.
		devstacktest.Eventually(t, 5*time.Minute, "pingapp rescheduled onto client-1 and passing", func() error {
			return servingOn(consul, "v3", 2, "client-1")
		})
		recovered := time.Since(at)
		time.Sleep(5 * time.Second)
		sent, failed := load.stop()
		t.Logf("failed requests: %s", load.why())
		t.Logf("MEASURED client node killed: pingapp back to 2 passing instances (both on client-1) %v after the kill; %d of %d requests at 50/s through the ingress failed",
			recovered.Round(time.Millisecond), failed, sent)
		// The dead instances are out of the ingress's backends: every
		// request of a second burst, all answered by client-1's instances.
		burst := startLoad(t, front, 50)
		time.Sleep(3 * time.Second)
		if sent, failed := burst.stop(); failed > 0 {
			t.Errorf("after recovery, %d of %d requests through the ingress failed", failed, sent)
		}
		for _, a := range killed {
			if err := s.RestartAgent(ctx, a); err != nil {
				t.Fatal(err)
			}
		}
		// client-2 back: Nomad places its ingress again (a system job).
		waitIngresses(t, s, consul, ingress)
	})
	t.Run("client drained mid blue-green release", func(t *testing.T) {
		waitIngresses(t, s, consul, ingress)
		load := startLoad(t, front, 50)
		var drained devstack.Node
		var drainedAt time.Time
		gate := gateFunc(func(ctx context.Context, d *nomadapi.Deployment) (rollout.Verdict, string, error) {
			if drainedAt.IsZero() {
				// The node running most of the current (blue) version.
				nodeID, blue, err := busiestNode(nomad, func(a *nomadapi.AllocationListStub) bool { return a.JobVersion < d.JobVersion })
				if err != nil {
					return rollout.Fail, "", err
				}
				if nodeID == "" {
					return rollout.Fail, "no blue allocation running", nil
				}
				node, _, err := nomad.Nodes().Info(nodeID, nil)
				if err != nil {
					return rollout.Fail, "", err
				}
				drained = devstack.Node{Name: node.Name}
				if _, err := nomad.Nodes().UpdateDrain(nodeID, &nomadapi.DrainSpec{Deadline: 2 * time.Minute}, false, nil); err != nil {
					return rollout.Fail, "", err
				}
				drainedAt = time.Now()
				t.Logf("draining %s (running %d blue allocations) while the green ones are judged", node.Name, blue)
			}
			if err := answering(consul, "v4"); err != nil {
				return rollout.Fail, err.Error(), nil
			}
			return rollout.Pass, "green answers /ping", nil
		})
		j := job("v4")
		j.TaskGroups[0].Update.Canary = ptr(2) // blue-green: a full green set beside blue
		res := deploy(j, gate)
		if res.Outcome != rollout.Succeeded {
			t.Fatalf("blue-green release ended %s", res.Outcome)
		}
		waitServing(t, consul, "v4", 2)
		time.Sleep(5 * time.Second)
		sent, failed := load.stop()
		t.Logf("failed requests: %s", load.why())
		t.Logf("MEASURED client drained mid blue-green release (%s): release %s %v after the drain began; %d requests at 50/s through the ingress, %d failed; ingress passing on %v at the end",
			drained.Name, res.Outcome, time.Since(drainedAt).Round(time.Millisecond), sent, failed, ingressNodes(consul, ingress))
		if failed > 0 {
			t.Errorf("%d of %d requests failed during the drain", failed, sent)
		}
	})
	t.Run("client stopped as a terminating instance is", func(t *testing.T) {
		// After the drain above the drained node is ineligible: every
		// client takes work again.
		nodes, _, err := nomad.Nodes().List(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range nodes {
			if _, err := nomad.Nodes().ToggleEligibility(n.ID, true, nil); err != nil {
				t.Fatal(err)
			}
		}
		stopped := nodeRunning(t, nomad)
		agent := stopped.Name + "/" + devstack.Nomad
		// What scripts/provision renders for a production client (lib.sh:
		// --drain-deadline, shorter here), added to this client's config;
		// the agent is restarted on it (its tasks keep running across).
		dir, err := s.ConfigDir(agent)
		if err != nil {
			t.Fatal(err)
		}
		drainCfg := filepath.Join(dir, "hstack-test-drain.hcl")
		if err := os.WriteFile(drainCfg, []byte("leave_on_interrupt = true\nclient {\n  drain_on_shutdown {\n    deadline           = \"1m\"\n    ignore_system_jobs = false\n  }\n}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := s.KillAgent(agent); err != nil {
			t.Fatal(err)
		}
		if err := s.RestartAgent(ctx, agent); err != nil {
			t.Fatal(err)
		}
		waitServing(t, consul, "v4", 2)
		waitIngresses(t, s, consul, ingress)
		before := allocsOn(t, nomad, stopped.ID)

		load := startLoad(t, front, 50)
		at := time.Now()
		// systemctl stop nomad, as termination-watch.sh runs it: SIGINT,
		// and the unit's TimeoutStopSec (deadline + a minute) before SIGKILL.
		if err := s.StopAgent(agent, 2*time.Minute); err != nil {
			t.Fatal(err)
		}
		exited := time.Since(at)
		devstacktest.Eventually(t, 3*time.Minute, "pingapp on the other client", func() error {
			return servingOn(consul, "v4", 2, otherClient(s, stopped.Name))
		})
		moved := time.Since(at)
		time.Sleep(3 * time.Second)
		sent, failed := load.stop()
		t.Logf("failed requests: %s", load.why())
		// Drained, not lost: the drainer marked each of its allocations to
		// migrate before the agent exited.
		for _, id := range before {
			a, _, err := nomad.Allocations().Info(id, nil)
			if err != nil {
				t.Fatal(err)
			}
			if a.Job.Type != nil && *a.Job.Type == "system" {
				continue
			}
			if a.DesiredStatus != nomadapi.AllocDesiredStatusStop || a.DesiredTransition.Migrate == nil || !*a.DesiredTransition.Migrate {
				t.Errorf("allocation %s of %s on %s: desired %s, migrate %v: want it drained (stop, migrate)", id[:8], a.JobID, stopped.Name, a.DesiredStatus, a.DesiredTransition.Migrate)
			}
		}
		t.Logf("MEASURED client stopped gracefully (%s, drain_on_shutdown): agent exited %v after SIGINT; 2 instances passing on the other client %v after it; %d of %d requests at 50/s through the ingress failed",
			stopped.Name, exited.Round(time.Millisecond), moved.Round(time.Millisecond), failed, sent)
		if failed > 0 {
			t.Errorf("%d of %d requests failed while the client drained", failed, sent)
		}
		if err := os.Remove(drainCfg); err != nil {
			t.Fatal(err)
		}
		if err := s.RestartAgent(ctx, agent); err != nil {
			t.Fatal(err)
		}
	})
}

// nodeRunning is the client node running the most pingapp allocations.
func nodeRunning(t *testing.T, nomad *nomadapi.Client) *nomadapi.Node {
	t.Helper()
	id, _, err := busiestNode(nomad, func(*nomadapi.AllocationListStub) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("no pingapp allocation running")
	}
	node, _, err := nomad.Nodes().Info(id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return node
}

// busiestNode is the node running the most pingapp allocations keep
// accepts, and how many ("" when none runs).
func busiestNode(nomad *nomadapi.Client, keep func(*nomadapi.AllocationListStub) bool) (string, int, error) {
	allocs, _, err := nomad.Jobs().Allocations("pingapp", false, nil)
	if err != nil {
		return "", 0, err
	}
	count := map[string]int{}
	for _, a := range allocs {
		if a.ClientStatus == nomadapi.AllocClientStatusRunning && keep(a) {
			count[a.NodeID]++
		}
	}
	var id string
	for n, c := range count {
		if id == "" || c > count[id] {
			id = n
		}
	}
	return id, count[id], nil
}

// allocsOn are the IDs of the allocations running on node.
func allocsOn(t *testing.T, nomad *nomadapi.Client, node string) []string {
	t.Helper()
	allocs, _, err := nomad.Nodes().Allocations(node, nil)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, a := range allocs {
		if a.ClientStatus == nomadapi.AllocClientStatusRunning {
			ids = append(ids, a.ID)
		}
	}
	if len(ids) == 0 {
		t.Fatalf("nothing running on node %s", node)
	}
	return ids
}

// otherClient is the name of a client node other than name (two clients).
func otherClient(s *devstack.Stack, name string) string {
	for _, n := range s.Nodes() {
		if n.Client && n.Name != name {
			return n.Name
		}
	}
	return ""
}

type gateFunc func(context.Context, *nomadapi.Deployment) (rollout.Verdict, string, error)

func (f gateFunc) Check(ctx context.Context, d *nomadapi.Deployment) (rollout.Verdict, string, error) {
	return f(ctx, d)
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

type election struct {
	node  devstack.Node
	after time.Duration
}

// watchNewLeader polls the surviving servers every 50ms for a leader of
// product other than old and sends it, with the time since since, once.
func watchNewLeader(s *devstack.Stack, product string, old devstack.Node, since time.Time) <-chan election {
	ch := make(chan election, 1)
	go func() {
		deadline := since.Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			n, err := s.LeaderNode(ctx, product)
			cancel()
			if err == nil && n.Name != old.Name {
				ch <- election{n, time.Since(since)}
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		ch <- election{}
	}()
	return ch
}

func waitServing(t *testing.T, consul *consulapi.Client, version string, n int) {
	t.Helper()
	devstacktest.Eventually(t, 3*time.Minute, fmt.Sprintf("%d instances of %s passing", n, version), func() error {
		return servingOn(consul, version, n, "")
	})
}

// servingOn is nil when exactly n instances of version pass their checks
// and answer /ping (all on node, if given).
func servingOn(consul *consulapi.Client, version string, n int, node string) error {
	entries, _, err := consul.Health().Service("pingapp", "version-"+version, true, nil)
	if err != nil {
		return err
	}
	if len(entries) != n {
		return fmt.Errorf("%d passing instances of %s, want %d", len(entries), version, n)
	}
	for _, e := range entries {
		if node != "" && e.Node.Node != node {
			return fmt.Errorf("instance %s on %s, want %s", e.Service.ID, e.Node.Node, node)
		}
		if _, err := get(fmt.Sprintf("http://%s:%d/ping", e.Service.Address, e.Service.Port)); err != nil {
			return err
		}
	}
	return nil
}

func answering(consul *consulapi.Client, version string) error {
	entries, _, err := consul.Health().Service("pingapp", "version-"+version, true, nil)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("no passing instance of %s", version)
	}
	for _, e := range entries {
		if _, err := get(fmt.Sprintf("http://%s:%d/ping", e.Service.Address, e.Service.Port)); err != nil {
			return err
		}
	}
	return nil
}

// load sends rate requests a second to pingapp's /ping through front (the
// cluster's front load balancer, then a client's ingress), and counts
// failures: an error, or any status but 200.
type load struct {
	sent, failed atomic.Int64
	cancel       context.CancelFunc
	done         chan struct{}
	mu           sync.Mutex
	errs         []string // the first few failures, to say why
}

func (l *load) fail(why string) {
	l.failed.Add(1)
	l.mu.Lock()
	if len(l.errs) < 5 {
		l.errs = append(l.errs, time.Now().Format("15:04:05.000")+" "+why)
	}
	l.mu.Unlock()
}

// why lists the first failures.
func (l *load) why() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) == 0 {
		return "none"
	}
	return strings.Join(l.errs, "; ")
}

func startLoad(t *testing.T, front string, rate int) *load {
	ctx, cancel := context.WithCancel(context.Background())
	l := &load{cancel: cancel, done: make(chan struct{})}
	target := front + "/ping"
	// A connection per request, as separate users would open them.
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	go func() {
		defer close(l.done)
		tick := time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
		var wg sync.WaitGroup
		defer wg.Wait()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				l.sent.Add(1)
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp, err := hc.Get(target)
					if err != nil {
						l.fail(err.Error())
						return
					}
					_ = resp.Body.Close() // only the status is read
					if resp.StatusCode != http.StatusOK {
						l.fail(resp.Status)
					}
				}()
			}
		}
	}()
	return l
}

func (l *load) stop() (sent, failed int64) {
	l.cancel()
	<-l.done
	return l.sent.Load(), l.failed.Load()
}

// deployIngress registers the ingress job `hstack render` makes from the
// repository's stack file (its dev environment: HAProxy by raw_exec), on
// the port the cluster's front load balancer forwards, and returns its
// Consul service name.
func deployIngress(t *testing.T, nomad *nomadapi.Client) string {
	t.Helper()
	st, diags := stackfile.Load("../../hstack.hcl", stackfile.LoadOptions{Env: "dev", Getenv: func(string) string { return "" }})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	st.Ingress.Port = devstack.ClusterIngressPort
	jobs, err := render.Render(st, render.Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := render.IngressName(st)
	for _, j := range jobs {
		if j.Name == name {
			if _, _, err := nomad.Jobs().Register(j.Job, nil); err != nil {
				t.Fatalf("register %s: %v", name, err)
			}
			return name
		}
	}
	t.Fatalf("no job %s rendered", name)
	return ""
}

// waitIngresses waits until every client runs the ingress, registered in
// Consul passing on the client's own node with the client's own address,
// and answering its health endpoint there.
func waitIngresses(t *testing.T, s *devstack.Stack, consul *consulapi.Client, service string) {
	t.Helper()
	devstacktest.Eventually(t, 3*time.Minute, "an ingress passing on every client, at its own address", func() error {
		entries, _, err := consul.Health().Service(service, "", true, nil)
		if err != nil {
			return err
		}
		at := map[string]string{}
		for _, e := range entries {
			at[e.Node.Node] = fmt.Sprintf("%s:%d", e.Service.Address, e.Service.Port)
		}
		for _, n := range s.Nodes() {
			if !n.Client {
				continue
			}
			want := fmt.Sprintf("%s:%d", n.Address, devstack.ClusterIngressPort)
			if at[n.Name] != want {
				return fmt.Errorf("ingress on %s: passing at %q, want %s (passing: %v)", n.Name, at[n.Name], want, at)
			}
			if _, err := get("http://" + want + render.HealthPath); err != nil {
				return err
			}
		}
		if len(entries) != len(at) {
			return fmt.Errorf("%d passing ingress instances on %d nodes, want one per client", len(entries), len(at))
		}
		return nil
	})
}

// ingressNodes lists where the ingress passes, as node=address:port.
func ingressNodes(consul *consulapi.Client, service string) []string {
	entries, _, err := consul.Health().Service(service, "", true, nil)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	for _, e := range entries {
		out = append(out, fmt.Sprintf("%s=%s:%d", e.Node.Node, e.Service.Address, e.Service.Port))
	}
	return out
}
