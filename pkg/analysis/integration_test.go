package analysis

import (
	"context"
	"fmt"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/model"
)

// TestBuiltinsAgainstPrometheus runs the built-in analyses through a real
// Prometheus scraping fake pingapp metrics, which checks the PromQL itself,
// not just the verdict logic: version 2 is healthy, 3 answers 20% 5xx
// slowly, 4 answers only 5xx to users (while its many health checks
// pass), 9 has no traffic.
func TestBuiltinsAgainstPrometheus(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts Prometheus")
	}
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		msg := "integration test needs the prometheus binary (Debian package prometheus; make deps): " + err.Error()
		testenv.Missing(t, msg)
	}

	target := fakePingapp(t)
	r, err := NewRunner(startPrometheus(t, bin, target))
	if err != nil {
		t.Fatal(err)
	}

	// Wait until the 10s rate window holds enough scrapes to be stable.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel) // not defer: the parallel subtests run after this function returns
	for {
		v, _, _, err := r.Prom.Query(ctx, `min(count_over_time(up{job="pingapp"}[10s]))`, time.Now())
		if err == nil {
			if vec, ok := v.(model.Vector); ok && len(vec) == 1 && vec[0].Value >= 6 {
				break
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("Prometheus did not collect 6 scrapes in time (last error: %v)", err)
		case <-time.After(500 * time.Millisecond):
		}
	}

	cases := []struct {
		analysis, version string
		want              Phase
	}{
		{BuiltinSuccessRate, "2", Successful},
		{BuiltinSuccessRate, "3", Failed},
		{BuiltinSuccessRate, "4", Failed},
		{BuiltinSuccessRate, "9", Inconclusive},
		{BuiltinLatencyP99, "2", Successful},
		{BuiltinLatencyP99, "3", Failed},
		{BuiltinLatencyP99, "9", Inconclusive},
	}
	// All at once, not as parallel subtests, which -parallel (GOMAXPROCS)
	// would serialise on a small machine.
	results := make([]Result, len(cases))
	errs := make([]error, len(cases))
	var wg sync.WaitGroup
	for i, tc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a, _ := Builtin(tc.analysis)
			// Seconds instead of minutes; the queries are otherwise the
			// built-ins as shipped.
			a.Interval, a.Count = 2*time.Second, 3
			a.Query = strings.ReplaceAll(a.Query, "[1m]", "[10s]")
			results[i], errs[i] = r.Run(ctx, a, Target{App: "pingapp", Version: tc.version})
		}()
	}
	wg.Wait()
	for i, tc := range cases {
		t.Run(tc.analysis+"/version-"+tc.version, func(t *testing.T) {
			res, err := results[i], errs[i]
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range res.Measurements {
				t.Logf("%s %v %s %s", m.At.Format(time.TimeOnly), m.Value, m.Phase, m.Err)
			}
			if res.Phase != tc.want {
				t.Fatalf("%s for version %s: %s (%s), want %s", tc.analysis, tc.version, res.Phase, res.Message, tc.want)
			}
		})
	}
}

// fakePingapp serves pingapp's metrics, with the app and version labels
// that relabelling adds in a real deployment, and generates traffic.
func fakePingapp(t *testing.T) string {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pingapp_http_requests_total", Help: "requests",
	}, []string{"app", "version", "route", "code"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "pingapp_http_request_duration_seconds", Help: "latency", Buckets: prometheus.DefBuckets,
	}, []string{"app", "version", "route"})
	reg.MustRegister(requests, duration)

	hit := func(version, route, code string, seconds float64) {
		requests.WithLabelValues("pingapp", version, route, code).Inc()
		duration.WithLabelValues("pingapp", version, route).Observe(seconds)
	}
	probes := func(version string, n int) {
		requests.WithLabelValues("pingapp", version, "/healthz", "200").Add(float64(n))
		requests.WithLabelValues("pingapp", version, "/metrics", "200").Add(float64(n))
	}
	tick := func(i int) {
		hit("2", "/ping", "200", 0.01)
		probes("2", 1)
		if i%5 == 0 {
			hit("3", "/ping", "500", 1)
		} else {
			hit("3", "/ping", "200", 1)
		}
		// Users get 503 while probes pass, and outnumber users enough that
		// counting them would make the success rate 0.995.
		hit("4", "/ping", "503", 0.01)
		probes("4", 100)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				tick(i)
			}
		}
	}()
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	t.Cleanup(func() {
		close(stop)
		wg.Wait()
		srv.Close()
	})
	return strings.TrimPrefix(srv.URL, "http://")
}

// startPrometheus runs Prometheus in its own process group, scraping
// target every second, and returns its URL once it is ready. Cleanup
// stops the whole group.
func startPrometheus(t *testing.T, bin, target string) string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	err := os.WriteFile(cfg, fmt.Appendf(nil, `global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: pingapp
    static_configs:
      - targets: [%q]
`, target), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // it only picked a free port

	logPath := filepath.Join(dir, "prometheus.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr,
	)
	cmd.Stdout, cmd.Stderr = logf, logf
	devstacktest.StartDaemon(t, cmd)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- prometheus log:\n%s", devstacktest.Tail(logPath, 30))
		}
	})

	url := "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(url + "/-/ready")
		if err == nil {
			_ = resp.Body.Close() // the test has what it needs from the response
			if resp.StatusCode == http.StatusOK {
				return url
			}
		}
		if devstacktest.Exited(cmd) {
			t.Fatalf("prometheus exited early:\n%s", devstacktest.Tail(logPath, 30))
		}
		time.Sleep(200 * time.Millisecond)
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready at %s within 30s:\n%s", url, devstacktest.Tail(logPath, 30))
		}
	}
}
