package stackfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkLoad200Apps loads a generated stack of 200 apps with
// databases, rollouts and a dev override for each, the size of a large
// real stack, to keep `hstack validate` and every render instant.
func BenchmarkLoad200Apps(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("variable \"tag\" {\n  default = \"1.0.0\"\n}\nstack \"big\" {}\n")
	sb.WriteString("database \"main\" {\n  address = \"db.internal\"\n")
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&sb, "  role \"app%d\" {\n    privilege = \"readwrite\"\n  }\n", i)
	}
	sb.WriteString("}\nnotifier \"ops\" {\n  type = \"slack\"\n  url_env = \"HOOK\"\n}\n")
	var dev strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&sb, `app "app%[1]d" {
  image = "registry.example.com/app%[1]d:${var.tag}"
  count = 3
  args  = ["-listen", "$${NOMAD_ADDR_http}"]
  env   = { LOG_LEVEL = upper("info"), INDEX = "%[1]d" }
  port "http" {
    to = 8080
  }
  resources {
    cpu    = 200
    memory = 256
  }
  health {
    path = "/readyz"
  }
  database {
    name = "main"
    role = "app%[1]d"
  }
  rollout {
    strategy = "canary"
    step {
      canary   = 1
      pause    = "30s"
      analysis = ["success-rate"]
    }
    step {
      canary = 2
    }
    analysis "success-rate" {
      query = "sum(rate(http_requests_total{app=\"app%[1]d\"}[1m]))"
      min   = 0.99
      count = 4
    }
    notify = ["ops"]
  }
}
`, i)
		fmt.Fprintf(&dev, "  app \"app%d\" {\n    count = 2\n  }\n", i)
	}
	sb.WriteString("environment \"dev\" {\n" + dev.String() + "}\n")
	path := filepath.Join(b.TempDir(), "hstack.hcl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	opts := LoadOptions{Env: "dev", Getenv: func(string) string { return "" }}
	if s, diags := Load(path, opts); diags.HasErrors() || len(s.Apps) != 200 {
		b.Fatalf("generated stack does not load:%s", dumpDiags(diags))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, diags := Load(path, opts); diags.HasErrors() {
			b.Fatal(diags)
		}
	}
}
