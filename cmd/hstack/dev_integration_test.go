package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// TestDevUpTwiceThenDownLeavesNothing drives the real hstack binary: `dev up`
// twice (the second run changes nothing), a Nomad task running, then
// `dev down` must leave no process of the stack, the task included.
func TestDevUpTwiceThenDownLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	devstacktest.RequireTools(t)
	dir, err := os.MkdirTemp("", "hstack-cli-")
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL may run as the postgres user, who must traverse it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			devstacktest.DumpLogs(t, filepath.Join(dir, "stack"))
		}
		// Whatever happened, stop it.
		if s, err := devstack.Open(filepath.Join(dir, "stack")); err == nil {
			_ = s.Down(t.Context()) // the test checks its own `dev down`; this only makes sure
		}
		_ = os.RemoveAll(dir) // best effort, like t.TempDir's own cleanup
	})
	bin := devstacktest.BuildBinary(t, "./cmd/hstack", dir)
	stackDir := filepath.Join(dir, "stack")
	hstack := func(args ...string) (string, string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HSTACK_DEV_DIR="+stackDir)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return out.String(), errb.String(), code
	}

	if out, errs, code := hstack("dev", "up", "--free-ports"); code != 0 {
		t.Fatalf("dev up exited %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	s, err := devstack.Open(stackDir)
	if err != nil {
		t.Fatal(err)
	}
	before := s.Processes()

	_, errs, code := hstack("dev", "up", "--free-ports")
	if code != 0 || !strings.Contains(errs, "already running") {
		t.Fatalf("second dev up: exit %d, stderr %q", code, errs)
	}
	if after := s.Processes(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("second dev up changed the processes: %v -> %v", before, after)
	}

	out, _, code := hstack("dev", "status", "--json")
	if code != 0 {
		t.Fatalf("dev status exited %d: %s", code, out)
	}
	healthy, lines := 0, strings.Split(strings.TrimSpace(out), "\n")
	for _, line := range lines {
		var cs devstack.ComponentStatus
		if err := json.Unmarshal([]byte(line), &cs); err != nil {
			t.Fatalf("dev status --json line %q: %v", line, err)
		}
		if cs.Healthy {
			healthy++
		}
	}
	if healthy != 5 || len(lines) != 5 {
		t.Fatalf("dev status: %d of %d components healthy, want 5 of 5:\n%s", healthy, len(lines), out)
	}

	out, _, code = hstack("dev", "env")
	if code != 0 || !strings.Contains(out, "export NOMAD_ADDR='"+s.NomadAddr()+"'") {
		t.Fatalf("dev env: exit %d\n%s", code, out)
	}

	// A running task: Nomad leaves tasks running when its agent stops, so
	// this is what a naive `down` would leak.
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	job := sleeperJob()
	if _, _, err := nomad.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	devstacktest.Eventually(t, 60*time.Second, "sleeper task running", func() error {
		allocs, _, err := nomad.Jobs().Allocations(*job.ID, false, nil)
		if err != nil {
			return err
		}
		for _, a := range allocs {
			if a.ClientStatus == nomadapi.AllocClientStatusRunning {
				return nil
			}
		}
		return fmt.Errorf("no running allocation")
	})
	if !sleeperRunning(stackDir) {
		t.Fatal("the sleeper task's process is not visible")
	}

	out, errs, code = hstack("dev", "down")
	if code != 0 {
		t.Fatalf("dev down exited %d\n%s\n%s", code, out, errs)
	}
	if left := s.Processes(); len(left) != 0 {
		t.Fatalf("processes of the stack still running after dev down: %v", left)
	}
	for _, pid := range before {
		if devstack.Alive(pid) {
			t.Errorf("pid %d (%s) still running", pid, cmdline(pid))
		}
	}
	if sleeperRunning(stackDir) {
		t.Error("the Nomad task survived dev down")
	}
	if mounts, _ := devstack.MountsUnder(stackDir); len(mounts) > 0 {
		t.Errorf("dev down left %d mounts (task secrets tmpfs), e.g. %s", len(mounts), mounts[0])
	}
	if _, err := os.Stat(filepath.Join(stackDir, devstack.EnvFile)); !os.IsNotExist(err) {
		t.Errorf("dev.env still present after down: %v", err)
	}
	if _, _, code := hstack("dev", "status"); code != 1 {
		t.Errorf("dev status on a stopped stack exited %d, want 1", code)
	}
}

func sleeperJob() *nomadapi.Job {
	job := nomadapi.NewServiceJob("sleeper", "sleeper", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := nomadapi.NewTask("sleep", "raw_exec")
	task.SetConfig("command", "/bin/sleep")
	task.SetConfig("args", []string{"3600"})
	task.Require(&nomadapi.Resources{CPU: intp(20), MemoryMB: intp(16)})
	tg := nomadapi.NewTaskGroup("sleep", 1).AddTask(task)
	job.AddTaskGroup(tg)
	return job
}

func intp(i int) *int { return &i }

// sleeperRunning finds the task's sleep: Nomad runs it in a task directory
// under the stack's data directory.
func sleeperRunning(stackDir string) bool {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if devstack.Alive(pid) && strings.HasPrefix(cwd, stackDir+"/") && strings.HasPrefix(cmdline(pid), "/bin/sleep 3600") {
			return true
		}
	}
	return false
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}
