package jobhcl

import (
	"fmt"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/testenv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/tools"
)

// startNomad runs `nomad agent -dev` on free loopback ports for the test and
// returns a client for it. It skips when Nomad is not installed, except in
// CI, where a missing binary must fail rather than quietly test nothing.
func startNomad(t *testing.T) *nomadapi.Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a Nomad agent (skipped with -short)")
	}
	bin, err := tools.Find("nomad")
	if err != nil {
		testenv.Missing(t, "the round trip needs a real Nomad (scripts/tools.sh nomad builds it): "+err.Error())
	}

	dir := t.TempDir()
	p := freePorts(t, 3)
	// The denylist is required on this kind of machine: the AWS fingerprinter
	// fails on the custom CA bundle and stalls the client.
	cfg := fmt.Sprintf(`
data_dir = %q
ports {
  http = %d
  rpc  = %d
  serf = %d
}
advertise {
  http = "127.0.0.1"
  rpc  = "127.0.0.1"
  serf = "127.0.0.1"
}
client {
  options = {
    "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean"
  }
}
# Jobs with a vault block are only valid when Vault is configured. Nothing
# talks to it: parsing, validating and planning need no token.
vault {
  enabled = true
  address = "http://127.0.0.1:1"
  default_identity {
    aud = ["vault.io"]
    ttl = "1h"
  }
}
plugin "raw_exec" {
  config {
    enabled = true
  }
}
`, filepath.Join(dir, "data"), p[0], p[1], p[2])
	cfgPath := filepath.Join(dir, "agent.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "nomad.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()

	cmd := exec.Command(bin, "agent", "-dev", "-bind", "127.0.0.1", "-network-interface", "lo", "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	// -dev puts its client directories under TMPDIR; keep them in the test's
	// directory so nothing outlives the test.
	tmp := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd.Env = append(os.Environ(), "TMPDIR="+tmp)
	devstacktest.StartDaemon(t, cmd)

	conf := nomadapi.DefaultConfig()
	conf.Address = fmt.Sprintf("http://127.0.0.1:%d", p[0])
	client, err := nomadapi.NewClient(conf)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		leader, err := client.Status().Leader()
		if err == nil && leader != "" {
			return client
		}
		if devstacktest.Exited(cmd) {
			t.Fatalf("nomad agent exited early:\n%s", tail(logPath))
		}
		if time.Now().After(deadline) {
			t.Fatalf("nomad has no leader after 60s (last error %v):\n%s", err, tail(logPath))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close() // it only picked a free port
	}
	return ports
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}
