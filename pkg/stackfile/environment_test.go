package stackfile

import (
	"strings"
	"testing"
	"time"
)

const mergeSrc = `stack "s" {
  datacenters = ["dc1"]
}

database "main" {
  address = "127.0.0.1"
  role "rw" {
    privilege = "readwrite"
  }
}

app "web" {
  image   = "nginx:1"
  count   = hstack.environment == "prod" ? 5 : 2
  tags    = ["a", "b"]
  env     = { A = "1", B = "2" }
  port "http" {
    to = 8080
  }
  resources {
    cpu    = 200
    memory = 256
  }
  rollout {
    strategy = "canary"
    canary   = 1
    step {
      canary = 1
    }
    step {
      canary = 2
    }
    analysis "ok" {
      query = "up"
      min   = 1
    }
  }
  meta = { env = hstack.environment }
}

environment "dev" {
  stack "s" {
    datacenters = ["laptop"]
  }
  database "main" {
    role "ro" {
      privilege = "readonly"
    }
  }
  app "web" {
    driver  = "raw_exec"
    command = "bin/web"
    tags    = ["dev"]
    env     = { C = "3" }
    port "metrics" {}
    resources {
      memory = 64
    }
    rollout {
      step {
        canary   = 1
        analysis = ["ok"]
      }
    }
  }
}

environment "prod" {
  app "web" {
    rollout {
      canary = null
    }
  }
}
`

func TestEnvironmentMerge(t *testing.T) {
	base, diags := Parse([]byte(mergeSrc), "test.hcl", LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("base:%s", dumpDiags(diags))
	}
	dev, diags := Parse([]byte(mergeSrc), "test.hcl", LoadOptions{Env: "dev"})
	if diags.HasErrors() {
		t.Fatalf("dev:%s", dumpDiags(diags))
	}
	prod, diags := Parse([]byte(mergeSrc), "test.hcl", LoadOptions{Env: "prod"})
	if diags.HasErrors() {
		t.Fatalf("prod:%s", dumpDiags(diags))
	}

	if strings.Join(base.Environments, ",") != "dev,prod" || dev.Environment != "dev" || base.Environment != "" {
		t.Errorf("environments: base %v/%q dev %q", base.Environments, base.Environment, dev.Environment)
	}

	b, d, p := base.App("web"), dev.App("web"), prod.App("web")

	// Attributes in the override replace the base's; the rest are kept.
	if d.Driver != DriverRawExec || d.Command != "bin/web" || d.Image != "" {
		t.Errorf("dev driver/command/image = %s %q %q", d.Driver, d.Command, d.Image)
	}
	if b.Driver != DriverDocker || b.Image != "nginx:1" {
		t.Errorf("the base must be unaffected by the dev merge: %s %q", b.Driver, b.Image)
	}
	// Lists and maps replace wholesale.
	if strings.Join(d.Tags, ",") != "dev" || len(d.Env) != 1 || d.Env["C"] != "3" {
		t.Errorf("dev tags %v env %v: lists and maps must be replaced, not merged", d.Tags, d.Env)
	}
	// Nested single blocks merge attribute by attribute.
	if d.Resources.Memory != 64 || d.Resources.CPU != 200 {
		t.Errorf("dev resources = %+v, want memory from dev and cpu from base", d.Resources)
	}
	// A labelled nested block that matches merges; a new one is added.
	if len(d.Ports) != 2 || d.Ports[0].Name != "http" || d.Ports[0].To != 8080 || d.Ports[1].Name != "metrics" {
		t.Errorf("dev ports = %+v", d.Ports)
	}
	if roles := dev.Database("main").Roles; len(roles) != 2 || roles[1].Name != "ro" {
		t.Errorf("dev roles = %+v, want the base role plus ro", roles)
	}
	// List blocks (steps) in an override replace the base's list.
	if len(d.Rollout.Steps) != 1 || d.Rollout.Steps[0].Analysis[0] != "ok" {
		t.Errorf("dev steps = %+v, want only the override's step", d.Rollout.Steps)
	}
	if len(b.Rollout.Steps) != 2 {
		t.Errorf("base steps = %+v", b.Rollout.Steps)
	}
	// The stack block merges like any other.
	if dev.Datacenters[0] != "laptop" || base.Datacenters[0] != "dc1" {
		t.Errorf("datacenters base %v dev %v", base.Datacenters, dev.Datacenters)
	}
	// hstack.environment is the selected environment.
	if b.Count != 2 || p.Count != 5 || b.Meta["env"] != "" || d.Meta["env"] != "dev" {
		t.Errorf("count base %d prod %d, meta base %q dev %q", b.Count, p.Count, b.Meta["env"], d.Meta["env"])
	}
	// null removes a base attribute: canary falls back to its default.
	if _, set := p.Rollout.Attrs["canary"]; set || p.Rollout.Canary != 1 {
		t.Errorf("prod canary = %d (set: %v), want the default after null", p.Rollout.Canary, set)
	}
}

// Ranges in the model and in diagnostics come from whichever side wrote
// the attribute.
func TestEnvironmentRanges(t *testing.T) {
	dev, diags := Parse([]byte(mergeSrc), "test.hcl", LoadOptions{Env: "dev"})
	if diags.HasErrors() {
		t.Fatalf("dev:%s", dumpDiags(diags))
	}
	a := dev.App("web")
	lineOf := func(needle string) int {
		i := strings.Index(mergeSrc, needle)
		return strings.Count(mergeSrc[:i], "\n") + 1
	}
	if got, want := a.Attrs["driver"].Start.Line, lineOf(`driver  = "raw_exec"`); got != want {
		t.Errorf("driver range line %d, want %d (the override)", got, want)
	}
	if got, want := a.Attrs["image"].Start.Line, lineOf(`image   = "nginx:1"`); got != want {
		t.Errorf("image range line %d, want %d (the base)", got, want)
	}
	if got, want := a.DeclRange.Start.Line, lineOf(`app "web" {`); got != want {
		t.Errorf("app DeclRange line %d, want %d (the base block)", got, want)
	}
	if got, want := a.Resources.Attrs["memory"].Start.Line, lineOf("memory = 64"); got != want {
		t.Errorf("memory range line %d, want %d", got, want)
	}
}

func TestEnvironmentCanAddOptionalBlocks(t *testing.T) {
	src := app("", `environment "prod" {
  ingress {
    route "web" {
      app = "web"
    }
  }
  monitoring {
    prometheus {}
  }
  notifier "ops" {
    type    = "webhook"
    url_env = "HOOK"
  }
}`)
	base, diags := Parse([]byte(src), "test.hcl", LoadOptions{})
	if diags.HasErrors() || base.Ingress != nil || base.Monitoring != nil {
		t.Fatalf("base: %v %v %v", diags, base.Ingress, base.Monitoring)
	}
	prod, diags := Parse([]byte(src), "test.hcl", LoadOptions{Env: "prod"})
	if diags.HasErrors() {
		t.Fatalf("prod:%s", dumpDiags(diags))
	}
	if prod.Ingress == nil || prod.Ingress.Routes[0].Port != "http" || !prod.Monitoring.Prometheus.Enabled || prod.Notifier("ops") == nil {
		t.Errorf("prod did not get the added blocks: %+v %+v", prod.Ingress, prod.Monitoring)
	}
	if prod.Monitoring.Grafana.Enabled {
		t.Error("an absent monitoring component must be disabled")
	}
}

func TestDefaultsAndResolution(t *testing.T) {
	src := app(`  count = 4
  health {}
  rollout {
    strategy = "blue-green"
    smoke_test "ping" {
      path = "/ping"
    }
  }`, `monitoring {
  prometheus {}
  alertmanager {
    receiver "mail" {
      type = "email"
      to   = "ops@example.com"
    }
  }
}
ingress {
  route "web" {
    app = "web"
  }
}`)
	s, diags := Parse([]byte(src), "test.hcl", LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("errors:%s", dumpDiags(diags))
	}
	a := s.App("web")
	if a.Rollout.Canary != 4 {
		t.Errorf("blue-green canary = %d, want count", a.Rollout.Canary)
	}
	if h := a.Health; h.Port != "http" || h.Path != "/" || h.Interval != 10*time.Second || h.Type != HealthHTTP {
		t.Errorf("health defaults = %+v", h)
	}
	if st := a.Rollout.SmokeTests[0]; st.Port != "http" || st.ExpectStatus != 200 || st.Timeout != 5*time.Second {
		t.Errorf("smoke test defaults = %+v", st)
	}
	m := s.Monitoring
	if m.Prometheus.Retention != 15*24*time.Hour || m.Alertmanager.Route == nil || m.Alertmanager.Route.Receiver != "mail" {
		t.Errorf("monitoring defaults = %+v / route %+v", m.Prometheus, m.Alertmanager.Route)
	}
	if s.Ingress.Port != 8080 || s.Ingress.Routes[0].PathPrefix != "/" {
		t.Errorf("ingress defaults = %+v", s.Ingress)
	}
}
