package devstack

import (
	"errors"
	"net"
	"path/filepath"
	"testing"
)

// Preflight names a taken port, as Up would, without touching the stack
// directory.
func TestPreflightReportsTakenPort(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ports, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	ports.Postgres = l.Addr().(*net.TCPAddr).Port
	dir := filepath.Join(t.TempDir(), "stack")
	var inUse *PortInUseError
	found := false
	for _, p := range Preflight(Options{Dir: dir, Ports: &ports}) {
		found = found || errors.As(p, &inUse)
	}
	if !found {
		t.Errorf("Preflight did not report port %d in use", ports.Postgres)
	}
	if _, err := Open(dir); err == nil {
		t.Errorf("Preflight created a stack in %s", dir)
	}
}
