package render

import (
	"bufio"
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/loadgen"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// TestAutoscalerScalesPingappUnderLoad runs the rendered dev jobs plus the
// rendered Nomad Autoscaler (the real binary under raw_exec) on a real dev
// stack, with a scaling block on pingapp (1 to 3 instances, 10 requests/s
// per instance). A load step of 30 requests/s through the ingress must
// scale pingapp out to its max, never past it, with every request
// answered while new instances join and each of them serving; when the
// load drops it must scale back in to its min after the cooldown.
func TestAutoscalerScalesPingappUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL, Prometheus, HAProxy and the Nomad Autoscaler")
	}
	autoscaler, err := tools.Find("nomad-autoscaler")
	if err != nil {
		testenv.Missing(t, "needs the Nomad Autoscaler: "+err.Error())
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
	const min, max, target = 1, 3, 10
	app := st.Apps[0]
	app.Count = min
	app.Scaling = &stackfile.Scaling{
		Min: min, Max: max, Target: target,
		// Requests per second per instance, over a window short enough to
		// follow a load step and long enough to span a few scrapes.
		Query:              `sum(rate(pingapp_http_requests_total{app="pingapp",route="/ping"}[30s])) / count(up{app="pingapp"} == 1)`,
		EvaluationInterval: 5 * time.Second,
		Cooldown:           30 * time.Second,
	}
	opts := devstackOptions(s)
	opts.Binaries = map[string]string{"nomad-autoscaler": autoscaler}
	jobs := mustRender(t, st, opts)
	syncConfig(t, s, st)
	for _, j := range jobs {
		if _, _, err := nomad.Jobs().Register(j.Job, nil); err != nil {
			t.Fatalf("register %s: %v", j.Name, err)
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/ping", ingressPort)
	devstacktest.Eventually(t, 3*time.Minute, "pong through the ingress", func() error {
		body, code, err := get(url)
		if err != nil || code != 200 || strings.TrimSpace(body) != "pong" {
			return fmt.Errorf("GET %s = %d %q %v; %s", url, code, body, err, allocStates(nomad))
		}
		return nil
	})
	serviceAddr(t, consul, AutoscalerJobName)
	serviceAddr(t, consul, "prometheus")

	passing := func() ([]string, error) {
		entries, _, err := consul.Health().Service("pingapp", "", true, nil)
		if err != nil {
			return nil, err
		}
		var addrs []string
		for _, e := range entries {
			addrs = append(addrs, fmt.Sprintf("%s:%d", e.Service.Address, e.Service.Port))
		}
		return addrs, nil
	}
	// The count must never leave [min, max], whoever sets it.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	maxSeen := make(chan int, 1)
	go func() {
		seen := 0
		defer func() { maxSeen <- seen }()
		var index uint64
		for ctx.Err() == nil {
			j, meta, err := nomad.Jobs().Info("pingapp", (&nomadapi.QueryOptions{WaitIndex: index, WaitTime: 10 * time.Second}).WithContext(ctx))
			if err != nil {
				time.Sleep(time.Second)
				continue
			}
			index = meta.LastIndex
			if c := *j.TaskGroups[0].Count; c > seen {
				seen = c
			}
		}
	}()

	// The load step.
	step := time.Now()
	load, err := loadgen.Start(ctx, loadgen.Config{Targets: []string{url}, Rate: 3 * target, ExpectStatus: 200, ExpectBody: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	var outAt time.Duration
	devstacktest.Eventually(t, 6*time.Minute, "pingapp scaled out to its max", func() error {
		addrs, err := passing()
		if err != nil {
			return err
		}
		if len(addrs) < max {
			return fmt.Errorf("%d passing instances; load %s; %s", len(addrs), load.Snapshot(), allocStates(nomad))
		}
		outAt = time.Since(step)
		return nil
	})
	// Each instance, old and new, is answering the ingress's traffic.
	devstacktest.Eventually(t, time.Minute, "every instance serving /ping", func() error {
		addrs, err := passing()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			n, err := pingsServed(a)
			if err != nil {
				return err
			}
			if n == 0 {
				return fmt.Errorf("instance %s has served no /ping", a)
			}
		}
		return nil
	})
	out := load.Stop()
	if out.Failed != 0 {
		t.Errorf("scale-out: %s", out)
	}
	t.Logf("load step to %d passing instances: %v; load during scale-out: %s", max, outAt.Round(time.Second), out)

	// The load drops to a trickle: after the cooldown pingapp is back at min.
	drop := time.Now()
	trickle, err := loadgen.Start(ctx, loadgen.Config{Targets: []string{url}, Rate: 1, ExpectStatus: 200, ExpectBody: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	devstacktest.Eventually(t, 6*time.Minute, "pingapp scaled back in to its min", func() error {
		ss, _, err := nomad.Jobs().ScaleStatus("pingapp", nil)
		if err != nil {
			return err
		}
		g := ss.TaskGroups["pingapp"]
		if g.Desired != min || g.Running != min {
			return fmt.Errorf("desired %d, running %d", g.Desired, g.Running)
		}
		return nil
	})
	in := trickle.Stop()
	t.Logf("load drop to %d instance: %v; load during scale-in: %s", min, time.Since(drop).Round(time.Second), in)
	if in.Failed != 0 {
		t.Errorf("scale-in: %s", in)
	}
	cancel()
	if m := <-maxSeen; m > max {
		t.Errorf("count reached %d, past the policy's max %d", m, max)
	}
	ss, _, err := nomad.Jobs().ScaleStatus("pingapp", nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range ss.TaskGroups["pingapp"].Events {
		msgs = append(msgs, fmt.Sprintf("%d->%d %s", e.PreviousCount, deref(e.Count), e.Message))
	}
	if len(msgs) < 2 {
		t.Errorf("scaling events: %v; want the autoscaler's scale-out and scale-in", msgs)
	}
	t.Logf("scaling events: %s", strings.Join(msgs, "; "))
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// pingsServed reads an instance's own count of answered /ping requests.
func pingsServed(addr string) (float64, error) {
	body, code, err := get("http://" + addr + "/metrics")
	if err != nil || code != 200 {
		return 0, fmt.Errorf("GET %s/metrics = %d %v", addr, code, err)
	}
	var n float64
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		l := sc.Text()
		if strings.HasPrefix(l, "pingapp_http_requests_total{") && strings.Contains(l, `route="/ping"`) && strings.Contains(l, `code="200"`) {
			f := strings.Fields(l)
			v, _ := strconv.ParseFloat(f[len(f)-1], 64)
			n += v
		}
	}
	return n, nil
}
