package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/testenv"
)

const routedStack = `
stack "shop" {}
app "web" {
  image = "x:1"
  count = 8
  port "http" {}
}
app "api" {
  image = "x:1"
  port "http" {}
  scaling {
    max    = 30
    query  = "up"
    target = 1
  }
}
ingress {
  port = 9080
  route "site" {
    app = "web"
  }
  route "api" {
    app         = "api"
    path_prefix = "/api"
  }
  route "api-v2" {
    app         = "api"
    path_prefix = "/api/v2/"
  }
  route "admin" {
    app  = "web"
    host = "Admin.Example.com"
  }
}
`

func TestHAProxyConfigRoutes(t *testing.T) {
	cfg, err := HAProxyConfig(parseStack(t, routedStack), "127.0.0.1:8600")
	if err != nil {
		t.Fatal(err)
	}
	// Most specific first: the host route, then longer prefixes, the
	// catch-all last.
	want := []string{
		"frontend http",
		`    bind {{ or (env "meta.ingress_address") (env "NOMAD_IP_http") }}:{{ env "NOMAD_PORT_http" }}`,
		"    monitor-uri /haproxy-health",
		"    acl route_admin_host req.hdr(host),host_only -i admin.example.com",
		"    use_backend web if route_admin_host",
		"    acl route_api-v2_path path_beg /api/v2/",
		"    use_backend api if route_api-v2_path",
		"    acl route_api_path path /api",
		"    acl route_api_path path_beg /api/",
		"    use_backend api if route_api_path",
		"    use_backend web",
		"    default_backend no_route",
	}
	if !strings.Contains(cfg, strings.Join(want, "\n")+"\n") {
		t.Errorf("frontend http not as expected; config:\n%s", cfg)
	}
	for _, line := range []string{
		"    nameserver consul tcp@127.0.0.1:8600",
		// Slots for every instance, twice over for blue-green.
		"    server-template web 16 _web._tcp.service.consul resolvers consul resolve-opts allow-dup-ip resolve-prefer ipv4 init-addr none check",
		"    server-template api 60 _api._tcp.service.consul resolvers consul resolve-opts allow-dup-ip resolve-prefer ipv4 init-addr none check",
		"    http-request use-service prometheus-exporter if { path /metrics }",
	} {
		if !strings.Contains(cfg, line+"\n") {
			t.Errorf("config lacks %q:\n%s", line, cfg)
		}
	}
	if n := strings.Count(cfg, "\nbackend web\n"); n != 1 {
		t.Errorf("backend web appears %d times, want once", n)
	}
	if strings.Count(cfg, "{{") != 4 {
		t.Errorf("only the four bind env actions may be template actions:\n%s", cfg)
	}
}

// TestIngressBindsTheNodesAddress: with no Consul DNS address given, each
// node's HAProxy binds its node's ingress_address meta (or, when that is
// empty, the address Nomad gave the port), registers that address in
// Consul, and asks its node's Consul DNS; a node without the meta gets no
// ingress. The template is executed the way Nomad's runner executes it
// (env reads the task's environment, node meta included).
func TestIngressBindsTheNodesAddress(t *testing.T) {
	st := parseStack(t, routedStack)
	job := jobNamed(t, mustRender(t, st, Options{}), IngressName(st)).Job
	tg := job.TaskGroups[0]
	if got := tg.Services[0].Address; got != "${meta.ingress_address}" {
		t.Errorf("ingress service address %q, want the node's ingress_address meta", got)
	}
	if len(tg.Constraints) != 1 || tg.Constraints[0].LTarget != "${meta.ingress_address}" || tg.Constraints[0].Operand != "is_set" {
		t.Errorf("constraints %+v, want ingress_address is_set", tg.Constraints)
	}
	if tg.Services[1].Address != "" {
		t.Errorf("metrics service address %q: it stays on Nomad's address", tg.Services[1].Address)
	}
	data := *tg.Tasks[0].Templates[0].EmbeddedTmpl
	for _, tc := range []struct {
		name      string
		env       map[string]string
		bind, dns string
	}{
		{"loopback cluster node", map[string]string{"meta.ingress_address": "127.0.5.22", "meta.consul_dns_addr": "127.0.5.22:8600", "NOMAD_IP_http": "127.0.0.1"}, "127.0.5.22:9080", "127.0.5.22:8600"},
		{"production node", map[string]string{"meta.ingress_address": "", "meta.consul_dns_addr": "127.0.0.1:8600", "NOMAD_IP_http": "10.0.1.7"}, "10.0.1.7:9080", "127.0.0.1:8600"},
		{"no consul_dns_addr meta", map[string]string{"meta.ingress_address": "", "NOMAD_IP_http": "10.0.1.7"}, "10.0.1.7:9080", "127.0.0.1:8600"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"NOMAD_PORT_http": "9080", "NOMAD_IP_metrics": "127.0.0.1", "NOMAD_PORT_metrics": "18081"}
			for k, v := range tc.env {
				env[k] = v
			}
			cfg := executeTemplate(t, data, env)
			for _, line := range []string{"    bind " + tc.bind, "    nameserver consul tcp@" + tc.dns, "    bind 127.0.0.1:18081"} {
				if !strings.Contains(cfg, line+"\n") {
					t.Errorf("config lacks %q:\n%s", line, cfg)
				}
			}
		})
	}
}

// executeTemplate runs data as Nomad's template runner would, env being
// the task's environment (consul-template's env, or, and nothing else is
// used by the ingress).
func executeTemplate(t *testing.T, data string, env map[string]string) string {
	t.Helper()
	tmpl, err := template.New("haproxy.cfg").Funcs(template.FuncMap{"env": func(k string) string { return env[k] }}).Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHAProxyConfigRejects(t *testing.T) {
	st := parseStack(t, routedStack)
	if _, err := HAProxyConfig(st, "consul.service:8600"); err == nil {
		t.Error("a DNS name as Consul DNS address: want an error, HAProxy needs an IP")
	}
	st.Ingress.Routes[0].PathPrefix = "/a b"
	if _, err := HAProxyConfig(st, "127.0.0.1:8600"); err == nil || !strings.Contains(err.Error(), "path_prefix") {
		t.Errorf("path with a space: err = %v", err)
	}
}

// TestHAProxyConfigParses runs `haproxy -c` on the rendered configuration
// of the example and of a stack with every kind of route, with the
// template's env actions filled in as Nomad would.
func TestHAProxyConfigParses(t *testing.T) {
	bin, err := exec.LookPath(DefaultHAProxyBinary)
	if err != nil {
		testenv.Missing(t, "haproxy is needed to check the rendered config (Debian package haproxy; `make deps` installs it): "+err.Error())
	}
	stacks := map[string]string{"routes": routedStack}
	for name, src := range stacks {
		checkHAProxy(t, bin, name, parseStack(t, src))
	}
	for _, env := range exampleEnvs {
		checkHAProxy(t, bin, "example-"+envName(env), loadExample(t, env))
	}
}

// checkHAProxy checks the configuration exactly as the ingress job carries
// it, warnings included: a warning usually means a directive does not do
// what it was written for.
func checkHAProxy(t *testing.T, bin, name string, st *stackfile.Stack) {
	t.Helper()
	job := jobNamed(t, mustRender(t, st, Options{}), IngressName(st)).Job
	data := *job.TaskGroups[0].Tasks[0].Templates[0].EmbeddedTmpl
	cfg := nomadEnv(t, data)
	path := writeFile(t, name+".cfg", cfg)
	out, err := exec.Command(bin, "-c", "-f", path).CombinedOutput()
	if err != nil || strings.Contains(string(out), "WARNING") || strings.Contains(string(out), "ALERT") {
		t.Errorf("%s: haproxy -c: %v\n%s\nconfig:\n%s", name, err, out, cfg)
	}
}

// nomadEnv fills in the template's env actions the way Nomad's template
// runner would on a node.
func nomadEnv(t *testing.T, cfg string) string {
	return executeTemplate(t, cfg, map[string]string{
		"meta.ingress_address": "127.0.0.1", "meta.consul_dns_addr": "127.0.0.1:8600",
		"NOMAD_IP_http": "127.0.0.1", "NOMAD_PORT_http": "18080",
		"NOMAD_IP_metrics": "127.0.0.1", "NOMAD_PORT_metrics": "18081",
	})
}

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
