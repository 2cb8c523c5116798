package render

import (
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Ingress defaults.
const (
	DefaultHAProxyBinary = "/usr/sbin/haproxy"
	HAProxyImage         = "haproxy:2.8"
	// DefaultConsulDNSAddr is the Consul DNS of a node provisioned before
	// MetaConsulDNSAddr existed: Consul's default client address and port.
	DefaultConsulDNSAddr = "127.0.0.1:8600"
	// HealthPath answers 200 from HAProxy itself, for Consul and a cloud
	// load balancer in front.
	HealthPath = "/haproxy-health"
	// MetricsPath is served by HAProxy's built-in Prometheus exporter on
	// the metrics port.
	MetricsPath = "/metrics"
	// minServerSlots is the least number of servers per backend; see
	// serverSlots.
	minServerSlots = 10
)

// Node meta every client carries (scripts/provision/client.sh, the dev
// stack's client): where that node's ingress listens and whose Consul DNS
// it asks. Several clients can share one host's loopback (the loopback
// cluster: 127.0.0.21, 127.0.0.22, ... with tasks on 127.0.0.1), so an
// address Nomad fingerprints cannot tell them apart; the provisioning,
// which knows the node's address, can.
const (
	// MetaIngressAddress is the address the ingress binds and registers
	// in Consul (so Consul's check and a load balancer in front reach that
	// node's HAProxy). Empty means the address Nomad gives the port: the
	// default route's interface, the instance's address in production.
	MetaIngressAddress = "ingress_address"
	// MetaConsulDNSAddr is ip:port of the node's Consul agent's DNS.
	MetaConsulDNSAddr = "consul_dns_addr"
)

// IngressName is the job and Consul service name of st's ingress. Unlike
// apps (whose job ID is what Vault grants credentials by), it carries the
// stack's name, so two stacks on one cluster do not collide.
func IngressName(st *stackfile.Stack) string { return st.IngressName() }

// ingressJob runs HAProxy on every node as a system job. Backends are Consul
// DNS SRV records, which list only instances whose checks pass, so traffic
// follows Consul health without HAProxy knowing about Consul's API.
func ingressJob(st *stackfile.Stack, local bool, opts Options) (*nomadapi.Job, error) {
	name := IngressName(st)
	cfg, err := HAProxyConfig(st, opts.ConsulDNSAddr)
	if err != nil {
		return nil, err
	}

	task := &nomadapi.Task{
		Name: "haproxy",
		Templates: []*nomadapi.Template{{
			EmbeddedTmpl: ptr(cfg),
			DestPath:     ptr("local/haproxy.cfg"),
			// -W runs HAProxy as master and workers: SIGUSR2 reloads the
			// configuration without dropping connections.
			ChangeMode:   ptr("signal"),
			ChangeSignal: ptr("SIGUSR2"),
		}},
		Resources:   &nomadapi.Resources{CPU: ptr(200), MemoryMB: ptr(128)},
		KillTimeout: ptr(30 * time.Second),
		// SIGUSR1 is HAProxy's soft stop: it stops accepting and lets
		// in-flight requests finish, within kill_timeout.
		KillSignal: "SIGUSR1",
	}
	args := []any{"-W", "-db", "-f", "${NOMAD_TASK_DIR}/haproxy.cfg"}
	if local {
		task.Driver = "raw_exec"
		task.Config = map[string]any{"command": opts.binary("haproxy", DefaultHAProxyBinary), "args": args}
	} else {
		task.Driver = "docker"
		task.Config = map[string]any{
			"image": HAProxyImage,
			// The host's network: the Consul agent's DNS is on the node's
			// loopback, and the cloud load balancer targets the node.
			"network_mode":    "host",
			"args":            args,
			"readonly_rootfs": true,
			"cap_drop":        []any{"ALL"},
			"security_opt":    []any{"no-new-privileges"},
		}
	}

	port := st.Ingress.Port
	return &nomadapi.Job{
		ID:          ptr(name),
		Name:        ptr(name),
		Type:        ptr(nomadapi.JobTypeSystem),
		Region:      ptr(st.Region),
		Namespace:   ptr(st.Namespace),
		Datacenters: append([]string(nil), st.Datacenters...),
		Meta:        stackMeta(st),
		TaskGroups: []*nomadapi.TaskGroup{{
			Name: ptr("haproxy"),
			// A node without the meta would register its ingress at an
			// uninterpolated address: it gets none instead.
			Constraints: []*nomadapi.Constraint{{
				LTarget: "${meta." + MetaIngressAddress + "}", Operand: nomadapi.ConstraintAttributeIsSet,
			}},
			// Leave the catalog (and the cloud load balancer's target
			// group, which follows the health endpoint) before stopping.
			ShutdownDelay: ptr(5 * time.Second),
			Networks: []*nomadapi.NetworkResource{{
				ReservedPorts: []nomadapi.Port{{Label: "http", Value: port}},
				DynamicPorts:  []nomadapi.Port{{Label: "metrics"}},
			}},
			Services: []*nomadapi.Service{
				{
					Name:      name,
					Provider:  "consul",
					PortLabel: "http",
					// Where bindHTTP listens ("" leaves Nomad's address).
					Address: "${meta." + MetaIngressAddress + "}",
					Tags:    []string{"ingress"},
					Checks: []nomadapi.ServiceCheck{{
						Name: name + " health", Type: "http", Path: HealthPath,
						Interval: 10 * time.Second, Timeout: 2 * time.Second,
					}},
				},
				{
					Name:      name + "-metrics",
					Provider:  "consul",
					PortLabel: "metrics",
					Tags:      []string{"metrics"},
					Meta:      map[string]string{"metrics_path": MetricsPath},
					Checks: []nomadapi.ServiceCheck{{
						Name: name + " metrics", Type: "http", Path: MetricsPath,
						Interval: 30 * time.Second, Timeout: 5 * time.Second,
					}},
				},
			},
			Update: &nomadapi.UpdateStrategy{MaxParallel: ptr(1)},
			RestartPolicy: &nomadapi.RestartPolicy{
				Attempts: ptr(5),
				Interval: ptr(5 * time.Minute),
				Delay:    ptr(5 * time.Second),
				Mode:     ptr("delay"),
			},
			Tasks: []*nomadapi.Task{task},
		}},
	}, nil
}

// Filled in by Nomad's template runner on each node: where HAProxy
// listens (the node's MetaIngressAddress, or the address Nomad allocated
// the port on) and the node's own Consul DNS (MetaConsulDNSAddr; Consul's
// default on a node provisioned before it).
const (
	bindHTTP    = `{{ or (env "meta.` + MetaIngressAddress + `") (env "NOMAD_IP_http") }}:{{ env "NOMAD_PORT_http" }}`
	bindMetrics = `{{ env "NOMAD_IP_metrics" }}:{{ env "NOMAD_PORT_metrics" }}`
	nodeDNS     = `{{ or (env "meta.` + MetaConsulDNSAddr + `") "` + DefaultConsulDNSAddr + `" }}`
)

// HAProxyConfig returns haproxy.cfg for st's ingress, as the data of a Nomad
// template: the bind addresses and the Consul DNS address are {{ env ... }}
// actions, nothing else in it is a template action. dnsAddr is Consul's
// DNS as ip:port, the same for every node; "" is each node's own.
func HAProxyConfig(st *stackfile.Stack, dnsAddr string) (string, error) {
	ing := st.Ingress
	if ing == nil {
		return "", fmt.Errorf("stack %q has no ingress", st.Name)
	}
	nameserver := nodeDNS
	if dnsAddr != "" {
		host, port, err := net.SplitHostPort(dnsAddr)
		if err != nil || net.ParseIP(host) == nil {
			return "", fmt.Errorf("ingress: Consul DNS address %q must be ip:port", dnsAddr)
		}
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
			return "", fmt.Errorf("ingress: Consul DNS address %q has an invalid port", dnsAddr)
		}
		nameserver = dnsAddr
	}

	// One backend per Consul service, named after it.
	var backends []string
	backendOf := map[*stackfile.Route]string{}
	for _, rt := range ing.Routes {
		if err := checkRoute(rt); err != nil {
			return "", err
		}
		app := st.App(rt.App)
		if app == nil {
			return "", fmt.Errorf("ingress: route %q: no app %q", rt.Name, rt.App)
		}
		svc := ServiceName(app, rt.Port)
		backendOf[rt] = svc
		if !slices.Contains(backends, svc) {
			backends = append(backends, svc)
		}
	}

	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# HAProxy for stack %q. Backends are Consul DNS SRV records, which list", st.Name)
	line("# only instances whose health checks pass.")
	line("global")
	line("    log stdout format raw local0 info")
	line("    maxconn 4096")
	line("    # Old workers get this long to finish requests after a reload.")
	line("    hard-stop-after 30s")
	line("")
	line("defaults")
	line("    mode http")
	line("    log global")
	line("    option httplog")
	line("    option dontlognull")
	line("    option forwardfor")
	line("    option redispatch")
	line("    retries 2")
	line("    timeout connect 5s")
	line("    timeout client 30s")
	line("    timeout server 30s")
	line("    timeout http-request 10s")
	line("    timeout http-keep-alive 5s")
	line("    timeout queue 30s")
	line("")
	line("# Consul DNS over TCP: over UDP Consul answers at most 3 records.")
	line("resolvers consul")
	line("    nameserver consul tcp@%s", nameserver)
	line("    accepted_payload_size 65535")
	line("    resolve_retries 3")
	line("    timeout resolve 1s")
	line("    timeout retry 1s")
	line("    # An instance that leaves the answer (failing check, stopped) is")
	line("    # dropped at once; a service with no passing instance at all is")
	line("    # kept only briefly.")
	line("    hold obsolete 0s")
	line("    hold nx 5s")
	line("    hold other 5s")
	line("    hold refused 5s")
	line("    hold timeout 5s")
	line("")
	line("frontend http")
	line("    bind %s", bindHTTP)
	line("    monitor-uri %s", HealthPath)
	for _, rt := range sortedRoutes(ing.Routes) {
		acl := "route_" + rt.Name
		var conds []string
		if rt.Host != "" {
			line("    acl %s_host req.hdr(host),host_only -i %s", acl, strings.ToLower(rt.Host))
			conds = append(conds, acl+"_host")
		}
		p := rt.PathPrefix
		switch {
		case p == "" || p == "/":
		case strings.HasSuffix(p, "/"):
			line("    acl %s_path path_beg %s", acl, p)
			conds = append(conds, acl+"_path")
		default:
			// "/api" is meant to match /api and /api/..., not /apiary.
			line("    acl %s_path path %s", acl, p)
			line("    acl %s_path path_beg %s/", acl, p)
			conds = append(conds, acl+"_path")
		}
		if len(conds) == 0 {
			line("    use_backend %s", backendOf[rt])
		} else {
			line("    use_backend %s if %s", backendOf[rt], strings.Join(conds, " "))
		}
	}
	line("    default_backend no_route")
	line("")
	line("frontend metrics")
	line("    bind %s", bindMetrics)
	line("    # Scrapes every few seconds would drown the access log.")
	line("    http-request set-log-level silent")
	line("    http-request use-service prometheus-exporter if { path %s }", MetricsPath)
	line("    default_backend no_route")
	for _, svc := range backends {
		app := st.App(appOfService(st, svc))
		line("")
		line("backend %s", svc)
		line("    balance roundrobin")
		// init-addr none: start even while the service has no instance.
		line("    server-template %s %d _%s._tcp.service.consul resolvers consul resolve-opts allow-dup-ip resolve-prefer ipv4 init-addr none check",
			svc, serverSlots(app), svc)
	}
	line("")
	line("backend no_route")
	line(`    http-request return status 404 content-type text/plain string "no route"`)
	return b.String(), nil
}

func appOfService(st *stackfile.Stack, service string) string {
	for _, a := range st.Apps {
		for _, p := range a.Ports {
			if ServiceName(a, p.Name) == service {
				return a.Name
			}
		}
	}
	return ""
}

// serverSlots is how many instances a backend can hold. HAProxy fills a
// fixed number of slots from DNS, so there must be room for every
// instance the app can have, twice during a blue-green deployment.
func serverSlots(app *stackfile.App) int {
	n := 0
	if app != nil {
		n = app.Count
		if app.Scaling != nil {
			n = max(n, app.Scaling.Max)
		}
	}
	return max(minServerSlots, 2*n)
}

// sortedRoutes orders routes the way HAProxy must test them, most specific
// first: host routes before hostless ones, then longer path prefixes
// before shorter ones. Ties keep file order.
func sortedRoutes(rs []*stackfile.Route) []*stackfile.Route {
	out := append([]*stackfile.Route(nil), rs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if (a.Host != "") != (b.Host != "") {
			return a.Host != ""
		}
		return len(a.PathPrefix) > len(b.PathPrefix)
	})
	return out
}

// checkRoute refuses what would break haproxy.cfg's syntax: its words are
// separated by spaces and it has its own quoting.
func checkRoute(rt *stackfile.Route) error {
	for _, r := range rt.Host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.') {
			return fmt.Errorf("ingress: route %q: host %q: only letters, digits, '-' and '.' are supported", rt.Name, rt.Host)
		}
	}
	for _, r := range rt.PathPrefix {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(`"'\#{}`, r) {
			return fmt.Errorf("ingress: route %q: path_prefix %q: whitespace, quotes, '\\', '#', '{' and '}' are not supported", rt.Name, rt.PathPrefix)
		}
	}
	return nil
}
