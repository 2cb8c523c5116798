package stackfile

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
)

// marker shows, in a test source, where the expected diagnostic's subject
// starts; it is removed before parsing.
const marker = "@@"

// pos returns the line and column of the marker in src, and src without
// it; ok is false when src has no marker.
func pos(src string) (clean string, line, col int, ok bool) {
	i := strings.Index(src, marker)
	if i < 0 {
		return src, 0, 0, false
	}
	before := src[:i]
	line = strings.Count(before, "\n") + 1
	col = utf8.RuneCountInString(before[strings.LastIndex(before, "\n")+1:]) + 1
	return before + src[i+len(marker):], line, col, true
}

// app wraps app attributes/blocks in a minimal valid stack; rest is
// appended at the top level.
func app(body string, rest ...string) string {
	return "stack \"s\" {}\n\napp \"web\" {\n  image = \"nginx:1\"\n  port \"http\" {}\n" + body + "\n}\n" + strings.Join(rest, "\n")
}

const db = `
database "main" {
  address = "127.0.0.1"
  role "rw" {
    privilege = "readwrite"
  }
}
`

func dumpDiags(diags hcl.Diagnostics) string {
	var sb strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&sb, "\n  %s: %s; %s", d.Subject, d.Summary, d.Detail)
	}
	return sb.String()
}

// requireDiag asserts that diags holds an error with summary whose subject
// starts at file:line,col (or has no subject when line is 0), and that it
// comes with a hint.
func requireDiag(t *testing.T, diags hcl.Diagnostics, summary, file string, line, col int) {
	t.Helper()
	for _, d := range diags {
		if d.Severity != hcl.DiagError || d.Summary != summary {
			continue
		}
		if line == 0 {
			if d.Subject == nil {
				if d.Detail == "" {
					t.Errorf("%q has no detail", summary)
				}
				return
			}
			continue
		}
		if d.Subject != nil && d.Subject.Filename == file && d.Subject.Start.Line == line && d.Subject.Start.Column == col {
			if d.Detail == "" {
				t.Errorf("%q has no detail", summary)
			}
			return
		}
	}
	where := "no subject"
	if line != 0 {
		where = fmt.Sprintf("%s:%d,%d", file, line, col)
	}
	t.Fatalf("want error %q at %s; got:%s", summary, where, dumpDiags(diags))
}

type errCase struct {
	name    string
	src     string // @@ marks the subject's start; no marker = no subject
	summary string
	opts    LoadOptions
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, line, col, _ := pos(tc.src)
			opts := tc.opts
			if opts.Getenv == nil {
				opts.Getenv = func(string) string { return "" }
			}
			s, diags := Parse([]byte(src), "test.hcl", opts)
			if s != nil {
				t.Errorf("got a Stack despite errors")
			}
			requireDiag(t, diags, tc.summary, "test.hcl", line, col)
		})
	}
}

func TestMinimalStackIsValid(t *testing.T) {
	s, diags := Parse([]byte(app("", db)), "test.hcl", LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:%s", dumpDiags(diags))
	}
	a := s.App("web")
	if a.Count != 1 || a.Driver != DriverDocker || a.Rollout.Strategy != StrategyRolling || a.Rollout.MaxParallel != 1 ||
		a.Resources.CPU != 100 || a.Resources.Memory != 128 || a.KillTimeout.String() != "15s" {
		t.Errorf("defaults not filled in: %+v", a)
	}
	if s.Region != "global" || s.Namespace != "default" || len(s.Datacenters) != 1 || s.Datacenters[0] != "dc1" {
		t.Errorf("stack defaults: %+v", s)
	}
	r := s.Database("main").Role("rw")
	if r.DefaultTTL.String() != "1h0m0s" || r.MaxTTL.String() != "24h0m0s" || s.Database("main").Port != 5432 {
		t.Errorf("database defaults: %+v %+v", s.Database("main"), r)
	}
}

func TestSchemaErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"unknown top-level block", "stack \"s\" {}\n@@frobnicate {}\n", "Unsupported block type", LoadOptions{}},
		{"unknown attribute", app("  @@imgae = \"x\""), "Unsupported argument", LoadOptions{}},
		{"unknown nested block", app("  @@healthcheck {}"), "Unsupported block type", LoadOptions{}},
		{"unknown attribute in rollout", app("  rollout {\n    @@canaries = 2\n  }"), "Unsupported argument", LoadOptions{}},
		{"top-level attribute", "@@name = \"x\"\nstack \"s\" {}\n", "Unsupported argument", LoadOptions{}},
		{"missing stack block", "@@app \"web\" {\n  image = \"x\"\n  port \"http\" {}\n}\n", "Missing stack block", LoadOptions{}},
		{"missing app", "@@stack \"s\" {}\n", "Missing app block", LoadOptions{}},
		{"missing port", "stack \"s\" {}\n@@app \"web\" {\n  image = \"x\"\n}\n", "Missing port block", LoadOptions{}},
		{"missing required argument", app("  rollout {\n    strategy = \"canary\"\n    @@analysis \"a\" {\n      min = 1\n    }\n  }", ""), "Missing required argument", LoadOptions{}},
		{"null required argument", app("  rollout {\n    strategy = \"canary\"\n    @@analysis \"a\" {\n      query = null\n      min = 1\n    }\n  }", ""), "Missing required argument", LoadOptions{}},
		{"syntax error", "stack \"s\" {\n  region = @@}\n", "Invalid expression", LoadOptions{}},
		{"invalid app name", "stack \"s\" {}\napp @@\"Web_App\" {\n  image = \"x\"\n  port \"http\" {}\n}\n", "Invalid app name", LoadOptions{}},
		{"invalid port label", app("  port @@\"my-port\" {}"), "Invalid port name", LoadOptions{}},
		{"undeclared variable reference", app("  tags = [@@var.nope]"), "Reference to undeclared input variable", LoadOptions{}},
		{"unknown root variable", app("  tags = [@@foo.bar]"), "Unknown variable", LoadOptions{}},
	})
}

func TestTypeErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"string for number", app("  count = @@\"three\""), "Incorrect attribute value type", LoadOptions{}},
		{"fraction for whole number", app("  count = @@1.5"), "Incorrect attribute value type", LoadOptions{}},
		{"string for list", app("  tags = @@\"web\""), "Incorrect attribute value type", LoadOptions{}},
		{"list for string", app("  command = @@[\"a\"]"), "Incorrect attribute value type", LoadOptions{}},
		{"object for bool", app("  distinct_hosts = @@{ a = 1 }"), "Incorrect attribute value type", LoadOptions{}},
		{"list for map", app("  env = @@[\"A=1\"]"), "Incorrect attribute value type", LoadOptions{}},
		{"null list element", app("  tags = [\"a\", @@null]"), "Invalid list element", LoadOptions{}},
		{"bad enum", app("  driver = @@\"dockr\""), "Invalid driver", LoadOptions{}},
		{"bad strategy", app("  rollout {\n    strategy = @@\"linear\"\n  }"), "Invalid strategy", LoadOptions{}},
		{"bad privilege", "stack \"s\" {}\ndatabase \"d\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = @@\"admin\"\n  }\n}\n", "Invalid privilege", LoadOptions{}},
		{"port out of range", app("  port \"admin\" {\n    to = @@70000\n  }"), "Invalid port number", LoadOptions{}},
		{"bad http status", app("  rollout {\n    smoke_test \"t\" {\n      path = \"/\"\n      expect_status = @@42\n    }\n  }"), "Invalid HTTP status", LoadOptions{}},
		{"relative path", app("  health {\n    path = @@\"readyz\"\n  }"), "Invalid path", LoadOptions{}},
		{"function error", app("  tags = [upper(\"a\", \"@@b\")]"), "Too many function arguments", LoadOptions{}},
		{"nondeterministic function", app("  tags = [@@uuid()]"), "Call to unknown function", LoadOptions{}},
	})
}

func TestDuplicateNames(t *testing.T) {
	runErrCases(t, []errCase{
		{"app", app("", "@@app \"web\" {\n  image = \"x\"\n  port \"http\" {}\n}"), "Duplicate app block", LoadOptions{}},
		{"stack", "stack \"s\" {}\n@@stack \"t\" {}\n", "Duplicate stack block", LoadOptions{}},
		{"database", app("", db, "@@database \"main\" {\n  address = \"x\"\n}"), "Duplicate database block", LoadOptions{}},
		{"role", app("", "database \"main\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = \"readonly\"\n  }\n  @@role \"r\" {\n    privilege = \"owner\"\n  }\n}"), "Duplicate role block", LoadOptions{}},
		{"port", app("  @@port \"http\" {}"), "Duplicate port block", LoadOptions{}},
		{"analysis", app("  rollout {\n    analysis \"a\" {\n      query = \"q\"\n      min = 1\n    }\n    @@analysis \"a\" {\n      query = \"q\"\n      max = 1\n    }\n  }"), "Duplicate analysis block", LoadOptions{}},
		{"smoke test", app("  rollout {\n    smoke_test \"t\" {\n      path = \"/\"\n    }\n    @@smoke_test \"t\" {\n      path = \"/x\"\n    }\n  }"), "Duplicate smoke_test block", LoadOptions{}},
		{"single block twice", app("  resources {}\n  @@resources {}"), "Duplicate resources block", LoadOptions{}},
		{"rollout twice", app("  rollout {}\n  @@rollout {}"), "Duplicate rollout block", LoadOptions{}},
		{"notifier", app("", "notifier \"n\" {\n  type = \"slack\"\n  url_env = \"A\"\n}\n@@notifier \"n\" {\n  type = \"slack\"\n  url_env = \"B\"\n}"), "Duplicate notifier block", LoadOptions{}},
		{"variable", "variable \"v\" {}\n@@variable \"v\" {}\n" + app(""), "Duplicate variable block", LoadOptions{}},
		{"environment", app("", "environment \"dev\" {}\n@@environment \"dev\" {}"), "Duplicate environment block", LoadOptions{}},
		{"route", app("", "ingress {\n  route \"r\" {\n    app = \"web\"\n  }\n  @@route \"r\" {\n    app = \"web\"\n  }\n}"), "Duplicate route block", LoadOptions{}},
		{"receiver", app("", "monitoring {\n  alertmanager {\n    receiver \"r\" {\n      type = \"email\"\n      to = \"a@example.com\"\n    }\n    @@receiver \"r\" {\n      type = \"email\"\n      to = \"b@example.com\"\n    }\n  }\n}"), "Duplicate receiver block", LoadOptions{}},
		{"inside an environment", app("", "environment \"dev\" {\n  app \"web\" {\n    count = 1\n  }\n  @@app \"web\" {\n    count = 2\n  }\n}"), "Duplicate app block", LoadOptions{Env: "dev"}},
		{"ingress", app("", "ingress {\n  route \"r\" {\n    app = \"web\"\n  }\n}\n@@ingress {}"), "Duplicate ingress block", LoadOptions{}},
	})
}

func TestReferenceErrors(t *testing.T) {
	monitoring := func(route string) string {
		return "monitoring {\n  alertmanager {\n    receiver \"oncall\" {\n      type = \"pagerduty\"\n      key_vault = \"secret/data/pd#key\"\n    }\n" + route + "\n  }\n}"
	}
	runErrCases(t, []errCase{
		{"database", app("  database {\n    name = @@\"mian\"\n    role = \"rw\"\n  }", db), "Reference to undeclared database", LoadOptions{}},
		{"role", app("  database {\n    name = \"main\"\n    role = @@\"ro\"\n  }", db), "Reference to undeclared role", LoadOptions{}},
		{"notifier", app("  rollout {\n    notify = [\"ops\", @@\"opps\"]\n  }", "notifier \"ops\" {\n  type = \"webhook\"\n  url_env = \"HOOK\"\n}"), "Reference to undeclared notifier", LoadOptions{}},
		{"receiver", app("", monitoring("    route {\n      receiver = @@\"on-call\"\n    }")), "Reference to undeclared receiver", LoadOptions{}},
		{"analysis", app("  count = 3\n  rollout {\n    strategy = \"canary\"\n    step {\n      canary = 1\n      analysis = [@@\"error-rate\"]\n    }\n    analysis \"success-rate\" {\n      query = \"q\"\n      min = 0.99\n    }\n  }"), "Reference to undeclared analysis", LoadOptions{}},
		{"ingress app", app("", "ingress {\n  route \"r\" {\n    app = @@\"api\"\n  }\n}"), "Reference to undeclared app", LoadOptions{}},
		{"health port", app("  health {\n    port = @@\"admin\"\n  }"), "Reference to undeclared port", LoadOptions{}},
		{"route port", app("", "ingress {\n  route \"r\" {\n    app = \"web\"\n    port = @@\"grpc\"\n  }\n}"), "Reference to undeclared port", LoadOptions{}},
		{"load test without canaries", app("  rollout {\n    @@load_test {\n      rate = 5\n    }\n  }"), "Load test without canaries", LoadOptions{}},
		{"load test url and path", app("  rollout {\n    strategy = \"canary\"\n    load_test {\n      url = \"http://127.0.0.1:8080/ping\"\n      path = @@\"/ping\"\n    }\n  }"), "Conflicting load_test target", LoadOptions{}},
		{"load test relative url", app("  rollout {\n    strategy = \"canary\"\n    load_test {\n      url = @@\"127.0.0.1:8080/ping\"\n    }\n  }"), "Invalid URL", LoadOptions{}},
		{"load test rate", app("  rollout {\n    strategy = \"canary\"\n    load_test {\n      rate = @@0\n    }\n  }"), "Invalid rate", LoadOptions{}},
		{"load test port", app("  rollout {\n    strategy = \"canary\"\n    load_test {\n      port = @@\"metrics\"\n    }\n  }"), "Reference to undeclared port", LoadOptions{}},
		{"smoke test port", app("  rollout {\n    smoke_test \"t\" {\n      path = \"/\"\n      port = @@\"metrics\"\n    }\n  }"), "Reference to undeclared port", LoadOptions{}},
	})
}

func TestRolloutErrors(t *testing.T) {
	rollout := func(count int, body string) string {
		return app(fmt.Sprintf("  count = %d\n  rollout {\n%s\n  }", count, body))
	}
	runErrCases(t, []errCase{
		{"canary above count", rollout(2, "    strategy = \"canary\"\n    canary = @@3"), "Too many canaries", LoadOptions{}},
		{"default canary above zero count", app("  count = 0\n  @@rollout {\n    strategy = \"canary\"\n  }"), "Too many canaries", LoadOptions{}},
		{"zero canaries", rollout(2, "    strategy = \"canary\"\n    canary = @@0"), "Invalid canary count", LoadOptions{}},
		{"canary with rolling", rollout(2, "    canary = @@1"), "Canary without canary strategy", LoadOptions{}},
		{"blue-green canary not count", rollout(3, "    strategy = \"blue-green\"\n    canary = @@2"), "Invalid canary count", LoadOptions{}},
		{"decreasing steps", rollout(4, "    strategy = \"canary\"\n    step {\n      canary = 2\n    }\n    step {\n      canary = @@1\n    }"), "Decreasing canary steps", LoadOptions{}},
		{"step below initial canary", rollout(4, "    strategy = \"canary\"\n    canary = 2\n    step {\n      canary = @@1\n    }"), "Decreasing canary steps", LoadOptions{}},
		{"step above count", rollout(2, "    strategy = \"canary\"\n    step {\n      canary = @@3\n    }"), "Too many canaries", LoadOptions{}},
		{"step canary zero", rollout(2, "    strategy = \"canary\"\n    step {\n      canary = @@0\n    }"), "Invalid canary count", LoadOptions{}},
		{"steps with rolling", rollout(2, "    @@step {\n      canary = 1\n    }"), "Steps without canary strategy", LoadOptions{}},
		{"zero healthy_deadline", rollout(1, "    healthy_deadline = @@\"0s\""), "Duration must be positive", LoadOptions{}},
		{"negative progress_deadline", rollout(1, "    progress_deadline = @@\"-1m\""), "Duration must be positive", LoadOptions{}},
		{"negative min_healthy_time", rollout(1, "    min_healthy_time = @@\"-1s\""), "Duration must not be negative", LoadOptions{}},
		{"negative shutdown_delay", app("  shutdown_delay = @@\"-5s\""), "Duration must not be negative", LoadOptions{}},
		{"zero kill_timeout", app("  kill_timeout = @@\"0\""), "Duration must be positive", LoadOptions{}},
		{"words duration", rollout(1, "    healthy_deadline = @@\"5 minutes\""), "Invalid duration", LoadOptions{}},
		{"unitless duration", app("  kill_timeout = @@\"15\""), "Invalid duration", LoadOptions{}},
		{"number duration", app("  kill_timeout = @@15"), "Invalid duration", LoadOptions{}},
		{"progress_deadline equal", rollout(1, "    healthy_deadline = \"5m\"\n    progress_deadline = @@\"5m\""), "Invalid progress_deadline", LoadOptions{}},
		{"progress_deadline below default healthy", rollout(1, "    progress_deadline = @@\"1m\""), "Invalid progress_deadline", LoadOptions{}},
		{"min_healthy_time too long", rollout(1, "    min_healthy_time = @@\"5m\"\n    healthy_deadline = \"5m\""), "Invalid min_healthy_time", LoadOptions{}},
		{"max_parallel zero", rollout(1, "    max_parallel = @@0"), "Invalid max_parallel", LoadOptions{}},
		{"negative count", app("  count = @@-1"), "Invalid count", LoadOptions{}},
		{"analysis without bounds", rollout(2, "    @@analysis \"a\" {\n      query = \"q\"\n    }"), "Missing success condition", LoadOptions{}},
		{"analysis empty range", rollout(2, "    analysis \"a\" {\n      query = \"q\"\n      min = @@2\n      max = 1\n    }"), "Invalid success range", LoadOptions{}},
		{"analysis cannot fail", rollout(2, "    analysis \"a\" {\n      query = \"q\"\n      min = 1\n      count = 2\n      failure_limit = @@2\n    }"), "Invalid failure_limit", LoadOptions{}},
		{"analysis zero interval", rollout(2, "    analysis \"a\" {\n      query = \"q\"\n      min = 1\n      interval = @@\"0s\"\n    }"), "Duration must be positive", LoadOptions{}},
		{"scaling min above max", app("  scaling {\n    min = @@5\n    max = 3\n    query = \"q\"\n    target = 1\n  }"), "Invalid scaling range", LoadOptions{}},
		{"count outside scaling", app("  count = @@20\n  scaling {\n    max = 10\n    min = 1\n    query = \"q\"\n    target = 1\n  }"), "Count outside scaling range", LoadOptions{}},
	})
}

func TestDriverAndResourceErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"docker without image", "stack \"s\" {}\n@@app \"web\" {\n  port \"http\" {}\n}\n", "Missing image", LoadOptions{}},
		{"raw_exec without command", "stack \"s\" {}\napp \"web\" {\n  driver = @@\"raw_exec\"\n  image = \"x\"\n  port \"http\" {}\n}\n", "Missing command", LoadOptions{}},
		{"memory_max below memory", app("  resources {\n    memory = 256\n    memory_max = @@128\n  }"), "Invalid memory_max", LoadOptions{}},
		{"memory too small", app("  resources {\n    memory = @@1\n  }"), "Invalid memory", LoadOptions{}},
		{"empty datacenters", "stack \"s\" {\n  datacenters = @@[]\n}\napp \"web\" {\n  image = \"x\"\n  port \"http\" {}\n}\n", "Invalid datacenters", LoadOptions{}},
	})
}

func TestDatabaseErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"no address", app("", "@@database \"d\" {\n  name = \"x\"\n}"), "Missing database address", LoadOptions{}},
		{"address and terraform", app("", "database \"d\" {\n  address = @@\"x\"\n  from_terraform_output {\n    dir = \"tf\"\n    writer = \"w\"\n  }\n}"), "Conflicting database address", LoadOptions{}},
		{"terraform without writer", app("", "database \"d\" {\n  @@from_terraform_output {\n    dir = \"tf\"\n  }\n}"), "Missing required argument", LoadOptions{}},
		{"custom without creation_sql", app("", "database \"d\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = @@\"custom\"\n    revocation_sql = [\"DROP ROLE \\\"{{name}}\\\";\"]\n  }\n}"), "Missing creation_sql", LoadOptions{}},
		{"custom without revocation_sql", app("", "database \"d\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = @@\"custom\"\n    creation_sql = [\"CREATE ROLE \\\"{{name}}\\\";\"]\n  }\n}"), "Missing revocation_sql", LoadOptions{}},
		{"creation_sql without custom", app("", "database \"d\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = \"readonly\"\n    creation_sql = @@[\"CREATE ROLE x;\"]\n  }\n}"), "Unexpected creation_sql", LoadOptions{}},
		{"max_ttl below default_ttl", app("", "database \"d\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = \"readonly\"\n    default_ttl = \"2h\"\n    max_ttl = @@\"1h\"\n  }\n}"), "Invalid max_ttl", LoadOptions{}},
		{"max_ttl below default default_ttl", app("", "database \"d\" {\n  address = \"x\"\n  role \"r\" {\n    privilege = \"readonly\"\n    max_ttl = @@\"30m\"\n  }\n}"), "Invalid max_ttl", LoadOptions{}},
		{"missing privilege", app("", "database \"d\" {\n  address = \"x\"\n  @@role \"r\" {}\n}"), "Missing required argument", LoadOptions{}},
	})
}

func TestSecretErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"notifier url", app("", "notifier \"ops\" {\n  type = \"slack\"\n  @@url = \"https://hooks.slack.com/services/T000/B000/XXXX\"\n}"), "Inline secret", LoadOptions{}},
		{"notifier webhook_url", app("", "notifier \"ops\" {\n  type = \"webhook\"\n  @@webhook_url = \"https://example.com/hook?token=x\"\n}"), "Inline secret", LoadOptions{}},
		{"receiver key", app("", "monitoring {\n  alertmanager {\n    receiver \"pd\" {\n      type = \"pagerduty\"\n      @@key = \"0123456789abcdef\"\n    }\n  }\n}"), "Inline secret", LoadOptions{}},
		{"receiver routing_key", app("", "monitoring {\n  alertmanager {\n    receiver \"pd\" {\n      type = \"pagerduty\"\n      @@routing_key = \"0123456789abcdef\"\n    }\n  }\n}"), "Inline secret", LoadOptions{}},
		{"database password", app("", "database \"d\" {\n  address = \"x\"\n  @@password = \"hunter2\"\n}"), "Inline secret", LoadOptions{}},
		{"secret from a variable is still inline", "variable \"u\" {\n  default = \"x\"\n}\n" + app("", "notifier \"ops\" {\n  type = \"slack\"\n  @@url = var.u\n}"), "Inline secret", LoadOptions{}},
		{"notifier without url", app("", "@@notifier \"ops\" {\n  type = \"slack\"\n}"), "Missing URL reference", LoadOptions{}},
		{"notifier with both", app("", "notifier \"ops\" {\n  type = \"slack\"\n  url_vault = @@\"secret/data/hooks#ops\"\n  url_env = \"OPS\"\n}"), "Conflicting URL references", LoadOptions{}},
		{"bad vault reference", app("", "notifier \"ops\" {\n  type = \"slack\"\n  url_vault = @@\"secret/data/hooks\"\n}"), "Invalid Vault reference", LoadOptions{}},
		{"url in url_env", app("", "notifier \"ops\" {\n  type = \"slack\"\n  url_env = @@\"https://hooks.slack.com/x\"\n}"), "Invalid environment variable name", LoadOptions{}},
		{"pagerduty without key", app("", "monitoring {\n  alertmanager {\n    @@receiver \"pd\" {\n      type = \"pagerduty\"\n    }\n  }\n}"), "Missing key_vault", LoadOptions{}},
		{"slack with key_vault", app("", "monitoring {\n  alertmanager {\n    receiver \"s\" {\n      type = \"slack\"\n      url_vault = \"secret/data/s#url\"\n      key_vault = @@\"secret/data/s#key\"\n    }\n  }\n}"), "Unsupported argument", LoadOptions{}},
		{"receiver env reference", app("", "monitoring {\n  alertmanager {\n    receiver \"s\" {\n      type = \"slack\"\n      @@url_env = \"SLACK\"\n    }\n  }\n}"), "Unsupported argument", LoadOptions{}},
	})
}

func TestIngressAndMonitoringErrors(t *testing.T) {
	runErrCases(t, []errCase{
		{"ingress without routes", app("", "@@ingress {}"), "Missing route block", LoadOptions{}},
		{"conflicting routes", app("", "ingress {\n  route \"a\" {\n    app = \"web\"\n  }\n  route \"b\" {\n    app = \"web\"\n    path_prefix = @@\"/\"\n  }\n}"), "Conflicting routes", LoadOptions{}},
		{"alertmanager without receivers", app("", "monitoring {\n  @@alertmanager {}\n}"), "Missing receiver block", LoadOptions{}},
		{"two receivers without route", app("", "monitoring {\n  @@alertmanager {\n    receiver \"a\" {\n      type = \"email\"\n      to = \"a@example.com\"\n    }\n    receiver \"b\" {\n      type = \"email\"\n      to = \"b@example.com\"\n    }\n  }\n}"), "Missing alertmanager route", LoadOptions{}},
		{"bad log backend", app("", "monitoring {\n  logs {\n    backend = @@\"elk\"\n  }\n}"), "Invalid backend", LoadOptions{}},
		{"zero retention", app("", "monitoring {\n  prometheus {\n    retention = @@\"0d\"\n  }\n}"), "Duration must be positive", LoadOptions{}},
	})
}

func TestEnvironmentErrors(t *testing.T) {
	envs := "environment \"dev\" {}\nenvironment \"prod\" {}"
	runErrCases(t, []errCase{
		{"unknown environment", app("", envs), "Unknown environment", LoadOptions{Env: "staging"}},
		{"no environments", app(""), "Unknown environment", LoadOptions{Env: "dev"}},
		{"override of undeclared app", app("", "environment \"dev\" {\n  @@app \"api\" {\n    count = 1\n  }\n}"), "Override of undeclared app", LoadOptions{Env: "dev"}},
		{"override of undeclared database", app("", "environment \"dev\" {\n  @@database \"main\" {\n    port = 1\n  }\n}"), "Override of undeclared database", LoadOptions{Env: "dev"}},
		{"unknown attribute in override", app("", "environment \"dev\" {\n  app \"web\" {\n    @@replicas = 1\n  }\n}"), "Unsupported argument", LoadOptions{Env: "dev"}},
		{"unsupported block in environment", app("", "environment \"dev\" {\n  @@variable \"x\" {}\n}"), "Unsupported block type", LoadOptions{Env: "dev"}},
		{"type error in override", app("", "environment \"dev\" {\n  app \"web\" {\n    count = @@\"one\"\n  }\n}"), "Incorrect attribute value type", LoadOptions{Env: "dev"}},
		{"override breaks a base rule", app("  count = 3\n  rollout {\n    strategy = \"canary\"\n    canary = @@2\n  }", "environment \"dev\" {\n  app \"web\" {\n    count = 1\n  }\n}"), "Too many canaries", LoadOptions{Env: "dev"}},
		{"override sets docker without image", "stack \"s\" {}\napp \"web\" {\n  driver = \"raw_exec\"\n  command = \"x\"\n  port \"http\" {}\n}\nenvironment \"prod\" {\n  app \"web\" {\n    driver = @@\"docker\"\n  }\n}\n", "Missing image", LoadOptions{Env: "prod"}},
	})
}

// Load checks only what it resolves: an error confined to an unselected
// environment surfaces when that environment is loaded (hstack validate
// without --env loads each one in turn).
func TestUnselectedEnvironmentIsNotDecoded(t *testing.T) {
	src := app("", "environment \"dev\" {\n  app \"web\" {\n    count = \"one\"\n  }\n}")
	if _, diags := Parse([]byte(src), "test.hcl", LoadOptions{}); diags.HasErrors() {
		t.Fatalf("base load reported the dev environment's error:%s", dumpDiags(diags))
	}
	if _, diags := Parse([]byte(src), "test.hcl", LoadOptions{Env: "dev"}); !diags.HasErrors() {
		t.Fatal("dev load did not report its error")
	}
}

func TestDiagnosticsAreSorted(t *testing.T) {
	src := app("  count = \"x\"\n  kill_timeout = \"soon\"\n  bogus1 = 1\n  bogus2 = 2\n  bogus3 = 3")
	_, diags := Parse([]byte(src), "test.hcl", LoadOptions{})
	if len(diags) < 5 {
		t.Fatalf("want 5 diagnostics:%s", dumpDiags(diags))
	}
	for i := 1; i < len(diags); i++ {
		if diags[i].Subject.Start.Byte < diags[i-1].Subject.Start.Byte {
			t.Fatalf("diagnostics out of order:%s", dumpDiags(diags))
		}
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]string{
		"90s": "1m30s", "1h30m": "1h30m0s", "250ms": "250ms", "15d": "360h0m0s", "1w": "168h0m0s",
		"1d12h": "36h0m0s", "1.5d": "36h0m0s", "-1d": "-24h0m0s", "0": "0s", "2w3d": "408h0m0s",
	} {
		got, err := ParseDuration(in)
		if err != nil || got.String() != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "5 minutes", "5", "d", "1dd", "1x", "1d 2h", "99999999999999w", "5minutes", "--1s"} {
		if got, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, got)
		}
	}
}
