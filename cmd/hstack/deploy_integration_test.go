package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/loadgen"
)

// TestDeployReleases drives `hstack deploy` and friends, as an operator or
// CI would, against a real dev stack running the example's dev environment
// (canary strategy, smoke test, success-rate analysis on Prometheus),
// under constant load through the HAProxy ingress.
func TestDeployReleases(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault, PostgreSQL and the monitoring jobs")
	}
	s := devstacktest.Start(t)
	hook := newHookRecorder(t)
	ex := newExample(t, s,
		// No smoke test: a 5xx canary must be caught by the metric
		// analysis, not by a lucky smoke request.
		edit{regexp.MustCompile(`(?s)\n    smoke_test "ping" \{.*?\n    \}\n`), "\n", "remove the smoke test"},
		// The dev environment notifies nobody; here it notifies the
		// example's Slack notifier, whose URL (a secret) comes from the
		// environment.
		edit{regexp.MustCompile(regexp.QuoteMeta("notify           = []")), `notify           = ["ops"]`, "turn on notifications in the dev environment"})
	hstack, stackFile, ingressPort := ex.hstack, ex.stackFile, ex.ingressPort
	common := append(ex.args, "--consul-dns-addr", fmt.Sprintf("127.0.0.1:%d", s.Ports.ConsulDNS))
	env := append(ex.env, "HSTACK_DEPLOYED_BY=deploy-test", "SLACK_WEBHOOK_URL="+hook.url)
	run := func(args ...string) (string, int) {
		t.Helper()
		out, code := runHstack(t, hstack, env, args...)
		if strings.Contains(out, hookSecret) {
			t.Errorf("hstack %s printed the webhook URL's secret", args[0])
		}
		return out, code
	}
	deploy := func(version string, extra ...string) (string, int) {
		args := append([]string{"deploy"}, common...)
		args = append(args, "--var", "image_tag="+version)
		return run(append(args, extra...)...)
	}
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	serving := func() map[string]int { return servingVersions(t, s) }

	if out, code := deploy("1.0.0"); code != 0 {
		t.Fatalf("first deploy exited %d:\n%s", code, out)
	}
	ingress := fmt.Sprintf("http://127.0.0.1:%d/ping", ingressPort)
	waitPing(t, ingress, time.Minute)

	t.Run("no changes", func(t *testing.T) {
		out, code := deploy("1.0.0", "pingapp")
		if code != 0 || !strings.Contains(out, "pingapp: no-change") {
			t.Fatalf("exit %d, want 0 with a no-change line:\n%s", code, out)
		}
	})

	t.Run("good canary under load: promoted, zero failed requests", func(t *testing.T) {
		load := startLoad(t, ingress, 50)
		out, code := deploy("2.0.0", "--json", "pingapp")
		ok, failed := load.stop()
		t.Logf("load through the ingress during the canary: %d ok, %d failed", ok, failed)
		if code != 0 {
			t.Fatalf("exit %d, want 0", code)
		}
		ev := jsonEvents(t, out)
		for _, want := range []string{"plan", "event:submitted", "event:canaries-healthy", "event:analysis", "event:promoted", "event:succeeded", "result:succeeded"} {
			if !ev[want] {
				t.Errorf("--json output lacks %s", want)
			}
		}
		if failed != 0 {
			t.Errorf("%d requests failed during the canary release", failed)
		}
		if got := serving(); got["2.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v, want only 2.0.0", got)
		}
		hook.expect(t, "pingapp version 2.0.0: canary rollout started", "pingapp version 2.0.0: canary rollout promoted")
	})

	t.Run("canary answering 5xx is failed by analysis and rolled back", func(t *testing.T) {
		load := startLoad(t, ingress, 50) // traffic for the analysis to judge
		out, code := deploy("3.0.0", "--var", `extra_env={FAULT_ERROR_RATE="0.5"}`, "pingapp")
		load.stop()
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		if !strings.Contains(out, "analysis success-rate failed") || !strings.Contains(out, "rolled-back") {
			t.Errorf("output does not show the analysis failing and the rollback:\n%s", out)
		}
		if got := serving(); got["2.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v after rollback, want only 2.0.0", got)
		}
		hook.expect(t, "pingapp version 3.0.0: canary rollout failed", "pingapp version 3.0.0: canary rollout rolled-back")
	})

	t.Run("crash-looping canary is rolled back with its stderr shown", func(t *testing.T) {
		out, code := deploy("4.0.0", "--var", `extra_env={FAULT_CRASH="true"}`, "pingapp")
		if code != 1 {
			t.Fatalf("exit %d, want 1", code)
		}
		if !strings.Contains(out, "FAULT_CRASH") || !strings.Contains(out, "stderr") {
			t.Errorf("no failure inspection with the task's stderr:\n%s", out)
		}
		if got := serving(); got["2.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v after rollback, want only 2.0.0", got)
		}
	})

	t.Run("killed mid-rollout, a second deploy attaches and finishes", func(t *testing.T) {
		versions := func() int {
			vs, _, _, err := nomad.Jobs().Versions("pingapp", false, nil)
			if err != nil {
				t.Fatal(err)
			}
			return len(vs)
		}
		before := versions()
		load := startLoad(t, ingress, 50) // traffic for the analysis
		defer load.stop()
		args := append(append([]string{"deploy"}, common...), "--var", "image_tag=5.0.0", "--json", "pingapp")
		cmd := exec.Command(hstack, args...)
		cmd.Env = env
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.Contains(sc.Text(), `"type":"deployment"`) {
				break
			}
		}
		// No chance to clean up: whatever it left must be enough.
		_ = cmd.Process.Signal(syscall.SIGKILL) // it may have exited already
		go io.Copy(io.Discard, stdout)
		_ = cmd.Wait() // killed: its exit status says nothing

		out, code := deploy("5.0.0", "--json", "pingapp")
		if code != 0 {
			t.Fatalf("second deploy exited %d", code)
		}
		if !jsonEvents(t, out)["event:attached"] {
			t.Error("the second deploy did not attach to the in-flight deployment")
		}
		if got := versions(); got != before+1 {
			t.Errorf("job versions %d -> %d, want exactly one new version", before, got)
		}
		if got := serving(); got["5.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v, want only 5.0.0", got)
		}
	})

	t.Run("blue-green under load: zero failed requests", func(t *testing.T) {
		load := startLoad(t, ingress, 50)
		out, code := deploy("6.0.0", "--strategy", "blue-green", "pingapp")
		ok, failed := load.stop()
		t.Logf("load through the ingress during blue-green: %d ok, %d failed", ok, failed)
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		if failed != 0 {
			t.Errorf("%d requests failed during the blue-green release", failed)
		}
		if got := serving(); got["6.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v, want only 6.0.0", got)
		}
	})

	t.Run("detach waits for a human (exit 4); promote finishes", func(t *testing.T) {
		load := startLoad(t, ingress, 50)
		defer load.stop()
		_, code := deploy("7.0.0", "--detach", "--auto-promote=false", "pingapp")
		if code != 4 {
			t.Fatalf("exit %d, want 4", code)
		}
		// Another process shows the waiting deployment and what the gate
		// found.
		if out, code := run("status", "-f", stackFile, "--env", "dev", "pingapp"); code != 0 || !strings.Contains(out, "requires manual promotion") ||
			!strings.Contains(out, "gate:") || !strings.Contains(out, "analysis success-rate: Successful") {
			t.Errorf("status exit %d, want the waiting deployment and the gate's findings:\n%s", code, out)
		}
		if _, code := run("promote", "pingapp"); code != 0 {
			t.Fatalf("promote exited %d", code)
		}
		if got := serving(); got["7.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v, want only 7.0.0", got)
		}
	})

	t.Run("rollback to a release tag, and history", func(t *testing.T) {
		if _, code := run("rollback", "--to-tag", "release-2.0.0", "pingapp"); code != 0 {
			t.Fatalf("rollback exited %d", code)
		}
		if got := serving(); got["2.0.0"] != 1 || len(got) != 1 {
			t.Errorf("serving %v, want only 2.0.0", got)
		}
		out, code := run("history", "pingapp")
		if code != 0 || !strings.Contains(out, "release-7.0.0") || !strings.Contains(out, "release-2.0.0") {
			t.Errorf("history exit %d lacks the release tags (release-7.0.0 was promoted by hand):\n%s", code, out)
		}
		// Nomad keeps the last six job versions; the crash-looping 4.0.0
		// is among them and its outcome must show.
		var crashLine string
		for _, line := range strings.Split(out, "\n") {
			if strings.Contains(line, " 4.0.0 ") {
				crashLine = line
			}
		}
		if !strings.Contains(crashLine, "failed") {
			deps, _, _ := nomad.Jobs().Deployments("pingapp", true, nil)
			for _, d := range deps {
				t.Logf("deployment %s job version %d: %s (%s)", d.ID[:8], d.JobVersion, d.Status, d.StatusDescription)
			}
			t.Errorf("history shows no failed deployment for 4.0.0 (line %q):\n%s", crashLine, out)
		}
	})

	t.Run("bad input exits 2 and submits nothing", func(t *testing.T) {
		before, _, _, _ := nomad.Jobs().Versions("pingapp", false, nil)
		if _, code := deploy("8.0.0", "--strategy", "sideways"); code != 2 {
			t.Errorf("bad --strategy exited %d, want 2", code)
		}
		if _, code := deploy("8.0.0", "no-such-app"); code != 2 {
			t.Errorf("unknown app exited %d, want 2", code)
		}
		after, _, _, _ := nomad.Jobs().Versions("pingapp", false, nil)
		if len(after) != len(before) {
			t.Error("a job was registered despite bad input")
		}
	})

	t.Run("unreachable nomad exits 3", func(t *testing.T) {
		cmd := exec.Command(hstack, append(append([]string{"deploy"}, common...), "--var", "image_tag=9.0.0", "pingapp")...)
		cmd.Env = append(env, fmt.Sprintf("NOMAD_ADDR=http://127.0.0.1:%d", freeTCPPort(t)))
		err := cmd.Run()
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Errorf("deploy against a dead Nomad: %v, want exit 3", err)
		}
	})
}

// load is the constant-rate traffic the zero-downtime assertions count:
// hstack's own load generator, so the test and a rollout's load_test
// measure requests the same way.
type load struct{ run *loadgen.Run }

// waitPing waits until url answers 200.
func waitPing(t *testing.T, url string, timeout time.Duration) {
	t.Helper()
	devstacktest.Eventually(t, timeout, "ping through the ingress", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		_ = resp.Body.Close() // only the status is read
		if resp.StatusCode != 200 {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	})
}

func startLoad(t *testing.T, url string, perSecond int) *load {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	run, err := loadgen.Start(ctx, loadgen.Config{Targets: []string{url}, Rate: perSecond, ExpectStatus: 200, ExpectBody: "pong"})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(cancel)
	return &load{run: run}
}

func (l *load) stop() (ok, failed int64) {
	res := l.run.Stop()
	if res.Failed > 0 {
		fmt.Fprintf(os.Stderr, "load: %s\n", res)
	}
	return res.OK, res.Failed
}

// runHstack runs the hstack binary and returns its combined output and
// exit code; the output is logged, indented.
func runHstack(t *testing.T, bin string, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	t.Logf("hstack %s -> exit %d\n%s", strings.Join(args[:min(len(args), 1)], " "), code, indentLines(out.String()))
	return out.String(), code
}

// hookSecret stands for the secret part of a Slack webhook URL; it must
// never be printed.
const hookSecret = "s3cr3t-hook-token"

// hookRecorder is a Slack-compatible webhook endpoint that keeps the text
// of every message.
type hookRecorder struct {
	url   string
	mu    sync.Mutex
	texts []string
}

func newHookRecorder(t *testing.T) *hookRecorder {
	h := &hookRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var msg struct{ Text string }
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil || r.URL.Path != "/services/T0/B0/"+hookSecret {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.texts = append(h.texts, msg.Text)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/services/T0/B0/" + hookSecret
	return h
}

// expect checks that a message containing each want arrived, in order.
func (h *hookRecorder) expect(t *testing.T, wants ...string) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	i := 0
	for _, text := range h.texts {
		if i < len(wants) && strings.Contains(text, wants[i]) {
			i++
		}
	}
	if i < len(wants) {
		t.Errorf("webhook: no message %q (in order) among:\n%s", wants[i], strings.Join(h.texts, "\n"))
	}
}

// jsonEvents indexes --json output: "plan", "event:<type>", "result:<outcome>".
func jsonEvents(t *testing.T, out string) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("--json line is not JSON: %q", line)
			continue
		}
		switch m["kind"] {
		case "plan":
			seen["plan"] = true
		case "event":
			seen[fmt.Sprint("event:", m["type"])] = true
		case "result":
			seen[fmt.Sprint("result:", m["outcome"])] = true
		}
	}
	return seen
}

// servingVersions maps each passing pingapp instance's version (service
// meta) to how many serve it.
func servingVersions(t *testing.T, s *devstack.Stack) map[string]int {
	t.Helper()
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := consul.Health().Service("pingapp", "", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range entries {
		out[e.Service.Meta["version"]]++
	}
	return out
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func indentLines(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
