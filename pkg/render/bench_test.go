package render

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkRender200Apps renders a generated stack of 200 apps, each with a
// database, health check, canary rollout and scaling policy, plus an
// ingress routing to all of them: the size of a large real stack, to keep
// `hstack render`, `plan` and `deploy` instant.
func BenchmarkRender200Apps(b *testing.B) {
	st := parseStack(b, bigStack(200))
	jobs, err := Render(st, Options{Commit: "abc1234"})
	if err != nil || len(jobs) != 201 {
		b.Fatalf("%d jobs, %v", len(jobs), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := Render(st, Options{Commit: "abc1234"}); err != nil {
			b.Fatal(err)
		}
	}
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
