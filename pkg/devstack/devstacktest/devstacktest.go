// Package devstacktest boots an isolated dev stack for a test: free ports, a
// temporary directory, torn down when the test ends. Tests never depend on a
// stack someone left running.
package devstacktest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// RequireTools skips the test when a binary the stack needs is missing —
// except in CI (CI set), where a missing tool is a failure: CI must never
// skip integration tests.
func RequireTools(t testing.TB) {
	t.Helper()
	var missing []string
	for _, name := range []string{"nomad", "consul", "vault"} {
		if _, err := tools.Find(name); err != nil {
			missing = append(missing, err.Error())
		}
	}
	if _, err := tools.FindPostgres(); err != nil {
		missing = append(missing, err.Error())
	}
	if len(missing) == 0 {
		return
	}
	msg := "integration test needs the dev stack's binaries: " + strings.Join(missing, "; ")
	testenv.Missing(t, msg)
}

// Start boots a stack and registers its teardown. On failure the tail of each
// component's log is printed (logs hold no secrets: Vault is initialised
// through the API, not in dev mode).
func Start(t testing.TB, opts ...func(*devstack.Options)) *devstack.Stack {
	t.Helper()
	RequireTools(t)
	// Not t.TempDir(): its parent is 0700 and Postgres, run as the postgres
	// user when tests run as root, must traverse it.
	dir, err := os.MkdirTemp("", "hstack-devstack-")
	if err != nil {
		t.Fatal(err)
	}
	ports, err := devstack.FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	o := devstack.Options{Dir: dir, Ports: &ports, Out: testWriter{t}, Timeout: 3 * time.Minute}
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := devstack.Up(ctx, o)
	if err != nil {
		DumpLogs(t, dir)
		_ = os.RemoveAll(dir) // best effort: the failure to report is the one below
		t.Fatalf("dev stack: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			DumpLogs(t, dir)
		}
		if err := s.Down(context.Background()); err != nil {
			t.Errorf("dev stack down: %v", err)
		}
		if left := s.Processes(); len(left) > 0 {
			t.Errorf("processes left running after down: %v", left)
		}
		if mounts, _ := devstack.MountsUnder(dir); len(mounts) > 0 {
			t.Errorf("%d mounts left after down, e.g. %s", len(mounts), mounts[0])
		}
		_ = os.RemoveAll(dir) // best effort: what would keep it (processes, mounts) is checked above
	})
	return s
}

// Secure is an option of Start: the stack runs with ACLs, TLS, gossip
// encryption and a Vault audit log, as `hstack dev up --secure` does.
func Secure(o *devstack.Options) { o.Secure = true }

// Cluster is an option of Start: the stack is the loopback cluster of
// `hstack dev up --cluster --clients N` (3 servers on NET.11-13, N clients
// on NET.21..). It takes the standard ports on those addresses, so one
// runs at a time on a network; NET is $HSTACK_CLUSTER_NET as for the CLI
// (default 127.0.0), so two test runs on different networks can share a
// machine.
func Cluster(clients int) func(*devstack.Options) {
	return func(o *devstack.Options) {
		o.Cluster, o.Clients, o.ClusterNet = true, clients, os.Getenv("HSTACK_CLUSTER_NET")
	}
}

// DumpLogs prints the last lines of every log in the stack directory.
func DumpLogs(t testing.TB, dir string) {
	t.Helper()
	logs, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, l := range logs {
		t.Logf("--- last lines of %s:\n%s", l, Tail(l, 30))
	}
}

// Tail returns the last n lines of the file at path (or why it cannot).
func Tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1024*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// BuildBinary compiles a main package of this module (e.g. "./cmd/pingapp")
// into dir and returns the binary's path.
func BuildBinary(t testing.TB, pkg, dir string) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// ModuleRoot finds the repository root (the directory holding go.mod).
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Eventually retries f until it returns nil or d passes.
func Eventually(t testing.TB, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, d, err)
}

// StartDaemon starts cmd in a process group of its own and stops the whole
// group when the test ends. The leader is reaped only after the group is
// signalled: while it is an unreaped zombie its PID (and so the group ID)
// cannot be recycled, so the signals can never reach an unrelated process
// group that was handed the same number. (PIDs wrap within minutes on a
// busy CI machine; a Wait in a goroutine would free the PID early.)
func StartDaemon(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		deadline := time.Now().Add(15 * time.Second)
		for !Exited(cmd) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}

// Exited reports whether a process started by StartDaemon has exited.
func Exited(cmd *exec.Cmd) bool { return !devstack.Alive(cmd.Process.Pid) }

// ParsePingappJob has Nomad itself parse jobs/pingapp.nomad.hcl, as `nomad
// job run` would, with the given HCL variables.
func ParsePingappJob(t testing.TB, nomad *nomadapi.Client, vars map[string]string) *nomadapi.Job {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "jobs", "pingapp.nomad.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	var vb strings.Builder
	for k, v := range vars {
		fmt.Fprintf(&vb, "%s = %q\n", k, v)
	}
	job, err := nomad.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{
		JobHCL: string(src), Variables: vb.String(), Canonicalize: true,
	})
	if err != nil {
		t.Fatalf("nomad parse jobs/pingapp.nomad.hcl: %v", err)
	}
	return job
}
