package render

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// BenchmarkRender200Apps renders a generated stack of 200 apps, each with a
// database, health check, canary rollout and scaling policy, plus an
// ingress routing to all of them: the size of a large real stack, to keep
// `hstack render`, `plan` and `deploy` instant.
func BenchmarkRender200Apps(b *testing.B) {
	st := parseStack(b, bigStack(200))
	jobs, err := Render(st, Options{Commit: "abc1234"})
	apps := 0
	for _, j := range jobs {
		if j.Kind == KindApp {
			apps++
		}
	}
	// The ingress and, since the apps scale, the autoscaler come with them.
	if err != nil || apps != 200 {
		b.Fatalf("%d apps of %d jobs, %v", apps, len(jobs), err)
	}
	b.ReportAllocs()
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		if _, err := Render(st, Options{Commit: "abc1234"}); err != nil {
			b.Fatal(err)
		}
		n++
	}
	// The CPU time (every thread, the garbage collector's included) is
	// what a render costs whatever else runs on the machine; ns/op is
	// that spread over the cores left free.
	b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(n), "cpu-ns/op")
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func bigStack(n int) string {
	var sb, routes strings.Builder
	sb.WriteString("stack \"big\" {\n  datacenters = [\"a\", \"b\", \"c\"]\n}\n")
	sb.WriteString("database \"main\" {\n  address = \"db.internal\"\n")
	for i := range n {
		fmt.Fprintf(&sb, "  role \"app%d\" {\n    privilege = \"readwrite\"\n  }\n", i)
	}
	sb.WriteString("}\n")
	for i := range n {
		fmt.Fprintf(&sb, `app "app%[1]d" {
  image = "registry.example.com/app%[1]d:1.0.0"
  count = 3
  args  = ["-listen", "$${NOMAD_ADDR_http}"]
  env   = { LOG_LEVEL = "info", INDEX = "%[1]d" }
  tags  = ["web"]
  meta  = { team = "t%[1]d" }
  spread_across_zones = true
  port "http" {
    to = 8080
  }
  health {
    path = "/readyz"
  }
  database {
    name = "main"
    role = "app%[1]d"
  }
  scaling {
    max    = 10
    query  = "sum(rate(http_requests_total{app=\"app%[1]d\"}[1m]))"
    target = 50
  }
  rollout {
    strategy = "canary"
    step {
      canary = 2
      pause  = "30s"
    }
  }
}
`, i)
		fmt.Fprintf(&routes, "  route \"r%[1]d\" {\n    app = \"app%[1]d\"\n    path_prefix = \"/app%[1]d\"\n  }\n", i)
	}
	sb.WriteString("ingress {\n" + routes.String() + "}\n")
	return sb.String()
}

// TestRender200AppsIsFormattedHCL: every file of the benchmark's stack is
// valid HCL and a fixed point of hclwrite.Format (what `nomad fmt` would
// leave alone); jobhcl no longer re-parses its output, so this is where a
// broken file would show.
func TestRender200AppsIsFormattedHCL(t *testing.T) {
	st := parseStack(t, bigStack(200))
	jobs, err := Render(st, Options{Commit: "abc1234"})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if _, diags := hclsyntax.ParseConfig(j.HCL, j.Name+".nomad.hcl", hcl.Pos{Line: 1, Column: 1}); diags.HasErrors() {
			t.Fatalf("%s: %s", j.Name, diags.Error())
		}
		if f := hclwrite.Format(j.HCL); !bytes.Equal(f, j.HCL) {
			t.Fatalf("%s: not formatted as hclwrite.Format would:\n%s", j.Name, cmp.Diff(string(f), string(j.HCL)))
		}
	}
}
