package devstack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/hstack-dev/hstack/pkg/workloadid"
)

// Cloud fingerprinters probe metadata endpoints that do not exist on a
// laptop; env_aws also fails outright when a custom CA bundle is set (as
// AWS_CA_BUNDLE is in our CI), which stops the Nomad client from starting.
const fingerprintDenylist = "env_aws,env_gce,env_azure,env_digitalocean"

// JWTAuthPath is where Vault trusts Nomad workload identities; it is Nomad's
// own default (vault.jwt_auth_backend_path), so jobs need no extra setting.
const JWTAuthPath = workloadid.DefaultAuthPath

// WorkloadRole is the Vault JWT role Nomad tasks log in with by default.
const WorkloadRole = workloadid.DefaultRole

// VaultAudience is the audience of the identity Nomad gives tasks for Vault.
const VaultAudience = workloadid.DefaultAudience

func strs(ss ...string) cty.Value {
	vals := make([]cty.Value, len(ss))
	for i, s := range ss {
		vals[i] = cty.StringVal(s)
	}
	return cty.ListVal(vals)
}

func loopback(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

func writeHCL(path string, f *hclwrite.File) error {
	return os.WriteFile(path, hclwrite.Format(f.Bytes()), 0o644)
}

func (s *Stack) consulConfig() *hclwrite.File {
	f := hclwrite.NewEmptyFile()
	b := f.Body()
	b.SetAttributeValue("node_name", cty.StringVal("hstack-dev"))
	b.SetAttributeValue("datacenter", cty.StringVal("dc1"))
	b.SetAttributeValue("bind_addr", cty.StringVal("127.0.0.1"))
	b.SetAttributeValue("client_addr", cty.StringVal("127.0.0.1"))
	b.SetAttributeValue("log_level", cty.StringVal("INFO"))
	b.SetAttributeValue("ui_config", cty.ObjectVal(map[string]cty.Value{"enabled": cty.True}))
	ports := b.AppendNewBlock("ports", nil).Body()
	p := s.Ports
	ports.SetAttributeValue("http", cty.NumberIntVal(int64(p.ConsulHTTP)))
	ports.SetAttributeValue("dns", cty.NumberIntVal(int64(p.ConsulDNS)))
	ports.SetAttributeValue("server", cty.NumberIntVal(int64(p.ConsulServer)))
	ports.SetAttributeValue("serf_lan", cty.NumberIntVal(int64(p.ConsulSerfLAN)))
	ports.SetAttributeValue("serf_wan", cty.NumberIntVal(int64(p.ConsulSerfWAN)))
	ports.SetAttributeValue("grpc", cty.NumberIntVal(int64(p.ConsulGRPC)))
	// -dev turns on gRPC TLS at 8503; nothing here uses it.
	ports.SetAttributeValue("grpc_tls", cty.NumberIntVal(-1))
	return f
}

func (s *Stack) vaultConfig() *hclwrite.File {
	f := hclwrite.NewEmptyFile()
	b := f.Body()
	if s.vaultRaft {
		// Integrated storage (Raft), as in production, so that `hstack
		// snapshot` works here too. Its directory is wiped on every start,
		// so Vault is still rebuilt and re-wired each time and no unseal
		// keys outlive it.
		st := b.AppendNewBlock("storage", []string{"raft"}).Body()
		st.SetAttributeValue("path", cty.StringVal(s.path(Vault, "raft")))
		st.SetAttributeValue("node_id", cty.StringVal("hstack-dev"))
	} else {
		// In-memory storage: the dev stack's Vault is rebuilt and re-wired
		// on every start, so no unseal keys outlive it.
		b.AppendNewBlock("storage", []string{"inmem"})
	}
	l := b.AppendNewBlock("listener", []string{"tcp"}).Body()
	l.SetAttributeValue("address", cty.StringVal(loopback(s.Ports.VaultAPI)))
	l.SetAttributeValue("cluster_address", cty.StringVal(loopback(s.Ports.VaultCluster)))
	l.SetAttributeValue("tls_disable", cty.True)
	b.SetAttributeValue("api_addr", cty.StringVal("http://"+loopback(s.Ports.VaultAPI)))
	b.SetAttributeValue("cluster_addr", cty.StringVal("https://"+loopback(s.Ports.VaultCluster)))
	b.SetAttributeValue("disable_mlock", cty.True)
	b.SetAttributeValue("ui", cty.True)
	b.SetAttributeValue("log_level", cty.StringVal("info"))
	return f
}

// nomadCommon is what the server and the client agent share.
func (s *Stack) nomadCommon(name, dataDir string) (*hclwrite.File, *hclwrite.Body) {
	f := hclwrite.NewEmptyFile()
	b := f.Body()
	b.SetAttributeValue("name", cty.StringVal(name))
	b.SetAttributeValue("datacenter", cty.StringVal("dc1"))
	b.SetAttributeValue("region", cty.StringVal("global"))
	b.SetAttributeValue("data_dir", cty.StringVal(dataDir))
	b.SetAttributeValue("bind_addr", cty.StringVal("127.0.0.1"))
	b.SetAttributeValue("log_level", cty.StringVal("INFO"))
	b.SetAttributeValue("disable_update_check", cty.True)
	// Nomad refuses to advertise a loopback bind address unless told to.
	adv := b.AppendNewBlock("advertise", nil).Body()
	adv.SetAttributeValue("http", cty.StringVal("127.0.0.1"))
	adv.SetAttributeValue("rpc", cty.StringVal("127.0.0.1"))
	adv.SetAttributeValue("serf", cty.StringVal("127.0.0.1"))
	return f, b
}

func (s *Stack) nomadTelemetry(b *hclwrite.Body) {
	tel := b.AppendNewBlock("telemetry", nil).Body()
	tel.SetAttributeValue("prometheus_metrics", cty.True)
	tel.SetAttributeValue("publish_allocation_metrics", cty.True)
	tel.SetAttributeValue("publish_node_metrics", cty.True)
}

// nomadServerConfig is a single-node Nomad server. It and the client run as
// two agents, as in production, so the client can start once the server's
// keyring exists: a client that registers earlier is refused ("keyring has
// not been initialized yet") and retries only after ~15-30s.
func (s *Stack) nomadServerConfig() *hclwrite.File {
	p := s.Ports
	f, b := s.nomadCommon("hstack-dev-server", s.path(Nomad, "data"))
	ports := b.AppendNewBlock("ports", nil).Body()
	ports.SetAttributeValue("http", cty.NumberIntVal(int64(p.NomadHTTP)))
	ports.SetAttributeValue("rpc", cty.NumberIntVal(int64(p.NomadRPC)))
	ports.SetAttributeValue("serf", cty.NumberIntVal(int64(p.NomadSerf)))

	server := b.AppendNewBlock("server", nil).Body()
	server.SetAttributeValue("enabled", cty.True)
	server.SetAttributeValue("bootstrap_expect", cty.NumberIntVal(1))
	// Jobs set memory_max as production does; without this Nomad ignores
	// it and warns on every plan.
	sched := server.AppendNewBlock("default_scheduler_config", nil).Body()
	sched.SetAttributeValue("memory_oversubscription_enabled", cty.True)

	consul := b.AppendNewBlock("consul", nil).Body()
	consul.SetAttributeValue("address", cty.StringVal(loopback(p.ConsulHTTP)))

	vault := b.AppendNewBlock("vault", nil).Body()
	vault.SetAttributeValue("enabled", cty.True)
	vault.SetAttributeValue("address", cty.StringVal("http://"+loopback(p.VaultAPI)))
	vault.SetAttributeValue("jwt_auth_backend_path", cty.StringVal(JWTAuthPath))
	id := vault.AppendNewBlock("default_identity", nil).Body()
	id.SetAttributeValue("aud", strs(VaultAudience))
	id.SetAttributeValue("ttl", cty.StringVal("1h"))

	s.nomadTelemetry(b)
	return f
}

// nomadClientConfig is the client agent that runs the tasks (raw_exec).
func (s *Stack) nomadClientConfig() *hclwrite.File {
	p := s.Ports
	f, b := s.nomadCommon("hstack-dev", s.path(NomadClient, "data"))
	ports := b.AppendNewBlock("ports", nil).Body()
	ports.SetAttributeValue("http", cty.NumberIntVal(int64(p.NomadClient)))

	client := b.AppendNewBlock("client", nil).Body()
	client.SetAttributeValue("enabled", cty.True)
	client.SetAttributeValue("servers", strs(loopback(p.NomadRPC)))
	// Tasks listen on loopback, so services register with 127.0.0.1.
	client.SetAttributeValue("network_interface", cty.StringVal("lo"))
	client.SetAttributeValue("options", cty.ObjectVal(map[string]cty.Value{
		"fingerprint.denylist": cty.StringVal(fingerprintDenylist),
		"driver.allowlist":     cty.StringVal("raw_exec,docker"),
	}))

	rawExec := b.AppendNewBlock("plugin", []string{"raw_exec"}).Body()
	rawExec.AppendNewBlock("config", nil).Body().SetAttributeValue("enabled", cty.True)

	consul := b.AppendNewBlock("consul", nil).Body()
	consul.SetAttributeValue("address", cty.StringVal(loopback(p.ConsulHTTP)))

	vault := b.AppendNewBlock("vault", nil).Body()
	vault.SetAttributeValue("enabled", cty.True)
	vault.SetAttributeValue("address", cty.StringVal("http://"+loopback(p.VaultAPI)))
	vault.SetAttributeValue("jwt_auth_backend_path", cty.StringVal(JWTAuthPath))

	s.nomadTelemetry(b)
	return f
}

func (s *Stack) path(parts ...string) string {
	return filepath.Join(append([]string{s.Dir}, parts...)...)
}
