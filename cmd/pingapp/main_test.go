package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as pingapp, so these tests exercise the real
// process: exit codes, signals and logs.
func TestMain(m *testing.M) {
	if os.Getenv("PINGAPP_TEST_BE_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

func command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append([]string{"PINGAPP_TEST_BE_MAIN=1", "PATH=" + os.Getenv("PATH")}, env...)
	return cmd
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if err == nil {
		return 0
	}
	if !errors.As(err, &ee) {
		t.Fatalf("run: %v", err)
	}
	return ee.ExitCode()
}

func TestExitCodes(t *testing.T) {
	db := "DATABASE_URL=host=127.0.0.1 port=1 user=u password=topsecret"
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"version", nil, []string{"-version"}, 0, "pingapp dev (commit unknown)"},
		{"no database", nil, nil, 2, "DATABASE_URL_FILE or DATABASE_URL"},
		{"bad fault", []string{db, "FAULT_LATENCY=soon"}, nil, 2, "FAULT_LATENCY"},
		{"bad flag", []string{db}, []string{"-drain", "x"}, 2, "-drain"},
		{"crash fault", []string{db, "FAULT_CRASH=true"}, []string{"-listen", "127.0.0.1:0"}, 1, "FAULT_CRASH is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := command(t, tc.env, tc.args...).CombinedOutput()
			if code := exitCode(t, err); code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tc.code, tc.want)
			}
			if strings.Contains(string(out), "topsecret") {
				t.Errorf("output leaks the password:\n%s", out)
			}
		})
	}
}

// logWatcher collects a child's stderr and lets the test wait for lines.
type logWatcher struct {
	mu    sync.Mutex
	lines []string
	more  chan struct{}
}

func watchLog(r io.Reader) *logWatcher {
	w := &logWatcher{more: make(chan struct{}, 1)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			w.mu.Lock()
			w.lines = append(w.lines, sc.Text())
			w.mu.Unlock()
			select {
			case w.more <- struct{}{}:
			default:
			}
		}
	}()
	return w
}

func (w *logWatcher) all() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}

func (w *logWatcher) waitFor(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		if m := re.FindStringSubmatch(w.all()); m != nil {
			return m
		}
		select {
		case <-w.more:
		case <-timeout:
			t.Fatalf("no log line matching %s in:\n%s", re, w.all())
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestLifecycle runs the process against an unreachable database (port 1):
// it must start anyway, report the database down, handle SIGHUP, drain on
// SIGTERM and exit 0, never logging the password.
func TestLifecycle(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "db.env")
	if err := os.WriteFile(creds, []byte("host=127.0.0.1 port=1 user=v-1 password=topsecret sslmode=disable\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := command(t, []string{"DATABASE_URL_FILE=" + creds, "SHUTDOWN_DRAIN=300ms"}, "-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill() }) // it may have exited already
	logs := watchLog(stderr)

	url := "http://" + logs.waitFor(t, regexp.MustCompile(`msg="pingapp starting".* listen=(\S+)`))[1]
	logs.waitFor(t, regexp.MustCompile(`msg="database not reachable yet`))

	if code, body := get(t, url+"/healthz"); code != 200 {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := get(t, url+"/ping"); code != 503 || !strings.HasPrefix(body, "database unreachable: ") {
		t.Errorf("/ping with database down = %d %q", code, body)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, regexp.MustCompile(`msg="database credentials unchanged" trigger=requested`))

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs.waitFor(t, regexp.MustCompile(`msg="shutdown started`))
	if code, body := get(t, url+"/readyz"); code != 503 || body != "shutting down\n" {
		t.Errorf("/readyz during drain = %d %q", code, body)
	}
	if code, _ := get(t, url+"/healthz"); code != 200 {
		t.Errorf("/healthz during drain = %d", code)
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if code := exitCode(t, err); code != 0 {
			t.Errorf("exit %d, want 0", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("process did not exit after SIGTERM")
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("exited %s after SIGTERM, before the 300ms drain", d)
	}
	logs.waitFor(t, regexp.MustCompile(`msg="pingapp stopped"`))
	if all := logs.all(); strings.Contains(all, "topsecret") {
		t.Errorf("logs leak the password:\n%s", all)
	}
}
