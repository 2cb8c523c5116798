package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/doccmd"
)

// TestDemoSuggestedCommandsSucceed runs, against a real dev stack running
// the example's pingapp, each hstack command line that `make demo` prints
// at its end for the user to try, exactly as printed, from the directory
// holding hstack.hcl and with the environment `source .hstack/dev.env`
// gives. Each must succeed: these are a newcomer's first commands.
func TestDemoSuggestedCommandsSucceed(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL and deploys pingapp")
	}
	suggested := demoSuggestions(t)
	s := devstacktest.Start(t)
	ex := newExample(t, s, rollingEdits...)
	env := append(ex.env, "VAULT_TOKEN="+s.VaultToken())
	setup := func(args ...string) {
		t.Helper()
		if out, code := runHstack(t, ex.hstack, env, args...); code != 0 {
			t.Fatalf("hstack %s exited %d:\n%s", args[0], code, out)
		}
	}
	setup(append([]string{"db", "setup"}, ex.args...)...)
	// Rolling, pingapp alone: the commands under test read what is
	// deployed, and a canary's analysis would need the monitoring jobs.
	setup(append(append([]string{"deploy"}, ex.args...), "--strategy", "rolling", "pingapp")...)

	// The user's shell: dev.env's variables, and the example's variables
	// where this test's stack differs from the defaults (ports, binary).
	userEnv := append(env,
		"HSTACK_VAR_pingapp_bin="+ex.pingapp,
		fmt.Sprintf("HSTACK_VAR_database_port=%d", s.Ports.Postgres),
		fmt.Sprintf("HSTACK_VAR_ingress_port=%d", ex.ingressPort))
	for _, l := range suggested {
		t.Run(strings.Join(l.Args, " "), func(t *testing.T) {
			cmd := exec.Command(ex.hstack, l.Args...)
			cmd.Dir, cmd.Env = filepath.Dir(ex.stackFile), userEnv
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Errorf("%s: %v\n%s", l, err, indentLines(string(out)))
			}
		})
	}
}

// demoSuggestions are the hstack command lines in the text scripts/demo.sh
// prints when it is done (its closing here-document).
func demoSuggestions(t *testing.T) []doccmd.Line {
	t.Helper()
	root, err := devstacktest.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(root, "scripts", "demo.sh")
	f, err := os.Open(script)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	from, to := 0, 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		switch line := strings.TrimSpace(sc.Text()); {
		case strings.HasPrefix(line, "cat <<EOM"):
			from = n
		case line == "EOM" && from > 0:
			to = n
		}
	}
	if from == 0 || to == 0 {
		t.Fatalf("%s: no closing `cat <<EOM ... EOM` text found", script)
	}
	all, err := doccmd.Find(script)
	if err != nil {
		t.Fatal(err)
	}
	var lines []doccmd.Line
	for _, l := range all {
		if l.Line > from && l.Line < to {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("%s:%d-%d: the closing text suggests no hstack command", script, from, to)
	}
	return lines
}
