package monitoring

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"text/template"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
)

// fullStack enables every component and every receiver type.
const fullStack = `
stack "shop" {
  region      = "eu"
  datacenters = ["dc1", "dc2"]
  namespace   = "web"
}

app "pingapp" {
  image = "ghcr.io/hstack-dev/pingapp:1.0.0"
  count = 2
  port "http" {
    to = 8080
  }
}

app "idle" {
  image = "ghcr.io/example/idle:1"
  count = 0
  port "http" {}
}

app "scaled" {
  image = "ghcr.io/example/scaled:1"
  count = 3
  port "http" {}
  scaling {
    min    = 2
    max    = 6
    query  = "sum(rate(scaled_http_requests_total[1m]))"
    target = 10
  }
}

monitoring {
  prometheus {
    retention       = "15d"
    scrape_interval = "15s"
  }

  alertmanager {
    receiver "slack" {
      type      = "slack"
      url_vault = "secret/data/alerting#slack_url"
      channel   = "#ops"
    }
    receiver "pd" {
      type      = "pagerduty"
      key_vault = "secret/data/alerting#pd_key"
    }
    receiver "mail" {
      type = "email"
      to   = "ops@example.com"
    }
    receiver "hook" {
      type      = "webhook"
      url_vault = "kv/hooks#hook-url"
    }
    route {
      receiver = "slack"
      group_by = ["alertname", "app"]
    }
  }

  grafana {}
  node_exporter {}
  logs {}
}
`

func parseStack(t testing.TB, src string) *stackfile.Stack {
	t.Helper()
	st, diags := stackfile.Parse([]byte(src), "test.hcl", stackfile.LoadOptions{})
	if diags.HasErrors() {
		t.Fatalf("parse test stack: %s", diags.Error())
	}
	return st
}

func localOpts() Options {
	return Options{
		Local:          true,
		ConsulHTTPAddr: "127.0.0.1:8500",
		NomadAddr:      "http://127.0.0.1:4646",
		VaultAddr:      "http://127.0.0.1:8200",
	}
}

func prodOpts() Options {
	return Options{NomadAddr: "https://nomad.service.consul:4646", VaultAddr: "https://vault.service.consul:8200"}
}

func mustJobs(t testing.TB, st *stackfile.Stack, o Options) []*nomadapi.Job {
	t.Helper()
	jobs, err := Jobs(st, o)
	if err != nil {
		t.Fatalf("Jobs: %v", err)
	}
	return jobs
}

func jobIDs(jobs []*nomadapi.Job) []string {
	var ids []string
	for _, j := range jobs {
		ids = append(ids, *j.ID)
	}
	return ids
}

func findJob(t testing.TB, jobs []*nomadapi.Job, id string) *nomadapi.Job {
	t.Helper()
	for _, j := range jobs {
		if *j.ID == id {
			return j
		}
	}
	t.Fatalf("no job %q among %v", id, jobIDs(jobs))
	return nil
}

// findTemplate returns the template of job's only task with the given
// destination.
func findTemplate(t testing.TB, job *nomadapi.Job, dest string) *nomadapi.Template {
	t.Helper()
	for _, tmpl := range job.TaskGroups[0].Tasks[0].Templates {
		if *tmpl.DestPath == dest {
			return tmpl
		}
	}
	t.Fatalf("job %s has no template for %s", *job.ID, dest)
	return nil
}

// fakeClient stands in for the Nomad client when a test renders template
// data: the same engine (text/template, as in consul-template) with the
// functions hstack's templates use.
type fakeClient struct {
	env      map[string]string
	secrets  map[string]map[string]any // Vault path -> the secret's Data
	services map[string][]fakeService
}

// fakeService has the fields of consul-template's health service that
// hstack's templates read.
type fakeService struct {
	Name        string
	ID          string
	Node        string
	Address     string
	Port        int
	Tags        []string
	ServiceMeta map[string]string
}

type fakeSecret struct{ Data map[string]any }

func (c *fakeClient) render(tmpl *nomadapi.Template) (string, error) {
	left, right := "{{", "}}"
	if tmpl.LeftDelim != nil {
		left, right = *tmpl.LeftDelim, *tmpl.RightDelim
	}
	tt := template.New(*tmpl.DestPath).Delims(left, right).Funcs(template.FuncMap{
		"env": func(name string) (string, error) {
			v, ok := c.env[name]
			if !ok {
				return "", fmt.Errorf("env %q not set in the test", name)
			}
			return v, nil
		},
		"secret": func(path string) (*fakeSecret, error) {
			d, ok := c.secrets[path]
			if !ok {
				return nil, fmt.Errorf("no secret at %q", path)
			}
			return &fakeSecret{Data: d}, nil
		},
		// "tag.name|filter": the filter is ignored, the tag honoured.
		"service": func(query string) []fakeService {
			query, _, _ = strings.Cut(query, "|")
			name, tag := query, ""
			if i := strings.LastIndex(query, "."); i >= 0 {
				tag, name = query[:i], query[i+1:]
			}
			var out []fakeService
			for _, s := range c.services[name] {
				if tag == "" || slices.Contains(s.Tags, tag) {
					out = append(out, s)
				}
			}
			return out
		},
		"contains":        func(needle string, haystack []string) bool { return slices.Contains(haystack, needle) },
		"regexMatch":      func(re, s string) bool { return regexp.MustCompile(re).MatchString(s) },
		"regexReplaceAll": func(re, repl, s string) string { return regexp.MustCompile(re).ReplaceAllString(s, repl) },
		"toJSON": func(v any) (string, error) {
			b, err := json.Marshal(v)
			return string(b), err
		},
	})
	if tmpl.ErrMissingKey != nil && *tmpl.ErrMissingKey {
		tt = tt.Option("missingkey=error")
	}
	tt, err := tt.Parse(*tmpl.EmbeddedTmpl)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := tt.Execute(&b, nil); err != nil {
		return "", err
	}
	return b.String(), nil
}

// Secret values the fake Vault hands out; none may appear in a job.
const (
	slackSecret   = "https://hooks.slack.example/services/T000/B000/SECRETSLACK"
	pdSecret      = "SECRETPAGERDUTYKEY0123456789abcd"
	webhookSecret = "https://hooks.example/SECRETWEBHOOK?token=x\"y"
)

func newFakeClient(dir string) *fakeClient {
	return &fakeClient{
		env: map[string]string{
			"NOMAD_SECRETS_DIR":              filepath.Join(dir, "secrets"),
			"NOMAD_TASK_DIR":                 filepath.Join(dir, "local"),
			"attr.unique.network.ip-address": "10.0.0.7",
			"attr.unique.hostname":           "node-7",
			"node.unique.name":               "node-7",
		},
		secrets: map[string]map[string]any{
			"secret/data/alerting": {"data": map[string]any{"slack_url": slackSecret, "pd_key": pdSecret}},
			"kv/hooks":             {"hook-url": webhookSecret},
		},
		services: map[string][]fakeService{
			"pingapp": {
				{Name: "pingapp", ID: "_nomad-task-0b6c1b56-6a5e-4d1e-8d0c-5d1e2c3b4a59-group-pingapp-pingapp-http", Node: "node-7",
					Address: "10.0.0.7", Port: 23456, Tags: []string{"http"}, ServiceMeta: map[string]string{"version": "1.0.0"}},
				{Name: "pingapp", ID: "_nomad-task-1b6c1b56-6a5e-4d1e-8d0c-5d1e2c3b4a59-group-pingapp-pingapp-http", Node: "node-8",
					Address: "10.0.0.8", Port: 23457, Tags: []string{"http", "canary"}, ServiceMeta: map[string]string{"version": "1.1.0"}},
			},
			"consul": {{Name: "consul", ID: "consul", Node: "server-1", Address: "10.0.1.1", Port: 8300}},
			"nomad": {
				{Name: "nomad", ID: "_nomad-server-a", Node: "server-1", Address: "10.0.1.1", Port: 4646, Tags: []string{"http"}},
				{Name: "nomad", ID: "_nomad-server-b", Node: "server-1", Address: "10.0.1.1", Port: 4647, Tags: []string{"rpc"}},
			},
		},
	}
}

// writeRendered renders every template of job's task into dir, as the
// Nomad client would into the task's directory.
func writeRendered(t testing.TB, c *fakeClient, job *nomadapi.Job, dir string) {
	t.Helper()
	for _, tmpl := range job.TaskGroups[0].Tasks[0].Templates {
		out, err := c.render(tmpl)
		if err != nil {
			t.Fatalf("render %s: %v", *tmpl.DestPath, err)
		}
		p := filepath.Join(dir, *tmpl.DestPath)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// requireTool finds a validator binary: a skip when it is missing, except
// in CI, where every test must run.
func requireTool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("%s not found (Debian package %s; `make deps` installs it): %v", name, debianPackage, err)
	testenv.Missing(t, msg)
	return ""
}

func run(t testing.TB, dir, bin string, args ...string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
		}
		t.Fatal(err)
	}
	t.Logf("%s %s: %s", filepath.Base(bin), strings.Join(args, " "), strings.TrimSpace(string(out)))
}
