package devstack

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// startDaemon starts a long-running process in its own session, so it
// outlives the hstack command that started it and a Ctrl-C in the developer's
// terminal does not reach it.
func startDaemon(dir, logPath string, env []string, name string, args ...string) (int, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600) // #nosec G304 -- the stack's logs/<component>.log
	if err != nil {
		return 0, err
	}
	defer logf.Close()
	cmd := exec.Command(name, args...) // #nosec G204 -- the pinned agent binary pkg/tools found, with arguments hstack builds
	cmd.Dir = dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s: %w", filepath.Base(name), err)
	}
	pid := cmd.Process.Pid
	// Reap it if it exits while we are still running, so it does not linger
	// as a zombie that still answers kill(pid, 0), and keep how it ended.
	go func() {
		err := cmd.Wait()
		exitsMu.Lock()
		exits[pid] = cmd.ProcessState.String()
		if err != nil && cmd.ProcessState == nil {
			exits[pid] = err.Error()
		}
		exitsMu.Unlock()
	}()
	return pid, nil
}

var (
	exitsMu sync.Mutex
	exits   = map[int]string{}
)

// exitStatus says how a daemon this process started ended ("exit status 1",
// "signal: killed"), or "" if unknown.
func exitStatus(pid int) string {
	exitsMu.Lock()
	defer exitsMu.Unlock()
	return exits[pid]
}

// processAlive reports whether pid is a live process whose command line
// contains marker. The marker guards against a recycled pid.
func processAlive(pid int, marker string) bool {
	if pid <= 0 {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// A zombie has exited; only its parent has not collected it yet.
	if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
		return false
	}
	if marker == "" {
		return true
	}
	cl := cmdline(pid)
	// Empty while the process is still inside execve: exec.Cmd.Start
	// returns once the close-on-exec pipe closes, before the kernel has set
	// up the new program's arguments. A big binary (Nomad) on a busy
	// machine stays in that window long enough to be seen.
	return cl == "" || strings.Contains(cl, marker)
}

// Alive reports whether pid is a live process and not a zombie awaiting
// its parent's wait.
func Alive(pid int) bool { return processAlive(pid, "") }

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return ""
	}
	return string(bytes.ReplaceAll(b, []byte{0}, []byte{' '}))
}

// stopProcess sends SIGTERM, waits, then SIGKILLs. It is a no-op for a
// process that is gone or whose command line no longer has marker.
//
// Signals go through a pidfd taken before the marker check: the pidfd pins
// the process, so if it dies and its PID is recycled (PIDs wrap quickly on
// a busy machine) the signal fails instead of hitting a stranger.
func stopProcess(pid int, marker string, grace time.Duration) error {
	return stopProcessWith(pid, marker, grace, syscall.SIGTERM)
}

// stopProcessWith is stopProcess with another first signal.
func stopProcessWith(pid int, marker string, grace time.Duration, first syscall.Signal) error {
	if pid <= 0 {
		return nil
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !processAlive(pid, marker) {
		return nil
	}
	signal := func(sig syscall.Signal) error {
		err := unix.PidfdSendSignal(fd, sig, nil, 0)
		if errors.Is(err, syscall.ESRCH) {
			return nil
		}
		return err
	}
	if err := signal(first); err != nil {
		return err
	}
	if waitGone(pid, marker, grace) {
		return nil
	}
	_ = signal(syscall.SIGKILL)
	if waitGone(pid, marker, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("process %d did not exit after SIGKILL", pid)
}

func waitGone(pid int, marker string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !processAlive(pid, marker) {
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return !processAlive(pid, marker)
}

// processesUnder lists processes whose working directory or command line is
// inside dir: what Nomad started for the stack (executors, logmon, tasks)
// lives in its data directory, and Nomad deliberately leaves tasks running
// when its agent stops.
func processesUnder(dir string) []int {
	dir = filepath.Clean(dir) + string(filepath.Separator)
	self := os.Getpid()
	ancestors := map[int]bool{}
	for p := self; p > 1; p = parentPID(p) {
		ancestors[p] = true
	}
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || ancestors[pid] {
			continue
		}
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if strings.HasPrefix(cwd+string(filepath.Separator), dir) || strings.Contains(cmdline(pid), dir) {
			if processAlive(pid, "") {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func parentPID(pid int) int {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return 0
	}
	fields := strings.Fields(string(stat[i+1:]))
	if len(fields) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(fields[1])
	return ppid
}

// unmountUnder detaches every mount below dir, deepest first. Nomad, run as
// root, mounts a tmpfs on each task's secrets directory and leaves it when
// its client stops; left alone those mounts keep the stack's directory from
// being removed and pile up across runs.
func unmountUnder(dir string) error {
	points, err := MountsUnder(dir)
	if err != nil {
		return err
	}
	sort.Slice(points, func(i, j int) bool { return len(points[i]) > len(points[j]) })
	var errs []error
	for _, mp := range points {
		if err := unix.Unmount(mp, unix.MNT_DETACH); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOENT) {
			errs = append(errs, fmt.Errorf("unmount %s: %w", mp, err))
		}
	}
	return errors.Join(errs...)
}

// MountsUnder lists the mount points below dir.
func MountsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	prefix := filepath.Clean(dir) + string(filepath.Separator)
	var points []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 {
			continue
		}
		// mountinfo escapes spaces and the like as octal (\040).
		if mp := unescapeMountinfo(f[4]); strings.HasPrefix(mp, prefix) {
			points = append(points, mp)
		}
	}
	return points, nil
}

func unescapeMountinfo(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// procState is the one-letter state of pid from /proc, "gone" if none.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "gone"
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return "unknown"
	}
	return fmt.Sprintf("%c, cmdline %q", b[i+2], cmdline(pid))
}

// killProcess SIGKILLs pid, as a crash would, if it still carries marker,
// and waits for it to be gone.
func killProcess(pid int, marker string) error {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return fmt.Errorf("pidfd_open %d: %w", pid, err)
	}
	defer unix.Close(fd)
	if !processAlive(pid, marker) {
		return fmt.Errorf("process %d is not the one recorded", pid)
	}
	if err := unix.PidfdSendSignal(fd, syscall.SIGKILL, nil, 0); err != nil {
		return err
	}
	if !waitGone(pid, marker, 10*time.Second) {
		return fmt.Errorf("process %d did not exit after SIGKILL", pid)
	}
	return nil
}

// RSS is pid's resident memory in bytes (0 if it is gone), from
// /proc/<pid>/status.
func RSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	return 0
}
