package devstack

import (
	"context"
	"errors"
	"net"
	"os"
	"strings"
	"testing"
)

func TestFreePortsDistinct(t *testing.T) {
	p, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]string{}
	for _, np := range p.all() {
		if *np.port == 0 {
			t.Errorf("%s: no port", np.name)
		}
		if other, dup := seen[*np.port]; dup {
			t.Errorf("%s and %s share port %d", np.name, other, *np.port)
		}
		seen[*np.port] = np.name
	}
}

// A taken port stops `dev up` before anything starts, with an error that
// names the port and its purpose.
func TestUpRefusesTakenPortAndStartsNothing(t *testing.T) {
	p, err := FreePorts()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", loopback(p.VaultAPI))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()

	dir := t.TempDir()
	// Binaries that fail if run: nothing may be started.
	fake := t.TempDir()
	for _, name := range []string{"nomad", "consul", "vault"} {
		bin := fake + "/" + name
		if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		t.Setenv("HSTACK_"+strings.ToUpper(name)+"_BIN", bin)
	}
	t.Setenv("HSTACK_PG_BINDIR", fake)

	_, err = Up(context.Background(), Options{Dir: dir, Ports: &p})
	var inUse *PortInUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("Up = %v, want a PortInUseError", err)
	}
	if inUse.Port != p.VaultAPI || inUse.Name != "vault api" {
		t.Errorf("error names %s port %d, want vault api port %d", inUse.Name, inUse.Port, p.VaultAPI)
	}
	if !strings.Contains(err.Error(), "--free-ports") {
		t.Errorf("error gives no way out: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the refusal wrote %d entries into the stack directory", len(entries))
	}
}
