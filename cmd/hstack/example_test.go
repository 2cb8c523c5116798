package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// example is the example stack file's dev environment set up for a test's
// dev stack: hstack and pingapp built from this tree, hstack.hcl as the test
// changed it.
type example struct {
	hstack, pingapp, stackFile string
	ingressPort                int
	// env points hstack at the dev stack, with no tokens.
	env []string
	// args select the stack file, the dev environment and the variables
	// that place it on this dev stack.
	args []string
}

// edit is one change to hstack.hcl; what says what it is for, should it
// stop applying.
type edit struct {
	re   *regexp.Regexp
	repl string
	what string
}

func newExample(t *testing.T, s *devstack.Stack, edits ...edit) example {
	t.Helper()
	e := example{
		hstack:      devstacktest.BuildBinary(t, "./cmd/hstack", s.Dir),
		pingapp:     devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir),
		stackFile:   filepath.Join(s.Dir, "hstack.hcl"),
		ingressPort: freeTCPPort(t),
	}
	root, err := devstacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "hstack.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, ed := range edits {
		changed := ed.re.ReplaceAll(src, []byte(ed.repl))
		if string(changed) == string(src) {
			t.Fatalf("could not %s in hstack.hcl", ed.what)
		}
		src = changed
	}
	if err := os.WriteFile(e.stackFile, src, 0o644); err != nil {
		t.Fatal(err)
	}
	e.env = append(os.Environ(),
		"NOMAD_ADDR="+s.NomadAddr(), "CONSUL_HTTP_ADDR="+s.ConsulAddr(), "VAULT_ADDR="+s.VaultAddr(),
		"NOMAD_TOKEN=", "CONSUL_HTTP_TOKEN=", "VAULT_TOKEN=")
	e.args = []string{"-f", e.stackFile, "--env", "dev",
		"--var", "pingapp_bin=" + e.pingapp,
		"--var", fmt.Sprintf("database_port=%d", s.Ports.Postgres),
		"--var", fmt.Sprintf("ingress_port=%d", e.ingressPort)}
	return e
}

// rollingEdits let the example's dev environment be released with
// --strategy rolling, which refuses to drop a load test or analyses
// silently: for tests about something other than the canary gate.
var rollingEdits = []edit{{
	regexp.MustCompile(`(?s)(environment "dev" \{.*?)\n      load_test \{.*?\n      \}\n`), "${1}\n",
	"drop the dev rollout's load test",
}, {
	regexp.MustCompile(`(?s)(environment "dev" \{.*?)\n      analysis "success-rate" \{.*?\n      \}\n`), "${1}\n",
	"drop the dev rollout's analysis",
}}
