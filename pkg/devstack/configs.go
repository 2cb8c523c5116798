package devstack

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"

	"github.com/hstack-dev/hstack/pkg/bootstrap"
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
	// 0600: a secure stack's configs hold the agents' Consul tokens and the
	// gossip key.
	return os.WriteFile(path, hclwrite.Format(f.Bytes()), 0o600)
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
	if s.state.Secure {
		ports.SetAttributeValue("http", cty.NumberIntVal(-1))
		ports.SetAttributeValue("https", cty.NumberIntVal(int64(p.ConsulHTTP)))
	} else {
		ports.SetAttributeValue("http", cty.NumberIntVal(int64(p.ConsulHTTP)))
	}
	ports.SetAttributeValue("dns", cty.NumberIntVal(int64(p.ConsulDNS)))
	ports.SetAttributeValue("server", cty.NumberIntVal(int64(p.ConsulServer)))
	ports.SetAttributeValue("serf_lan", cty.NumberIntVal(int64(p.ConsulSerfLAN)))
	ports.SetAttributeValue("serf_wan", cty.NumberIntVal(int64(p.ConsulSerfWAN)))
	ports.SetAttributeValue("grpc", cty.NumberIntVal(int64(p.ConsulGRPC)))
	// -dev turns on gRPC TLS at 8503; nothing here uses it.
	ports.SetAttributeValue("grpc_tls", cty.NumberIntVal(-1))
	if s.state.Secure {
		s.consulSecure(b)
	}
	return f
}

// consulSecure is production's Consul: ACLs default deny, gossip
// encryption, TLS on RPC and HTTPS with client certificates verified.
func (s *Stack) consulSecure(b *hclwrite.Body) {
	node := s.nodes()[0]
	certs := s.certs(node)
	b.SetAttributeValue("encrypt", cty.StringVal(s.state.GossipKey))
	acl := b.AppendNewBlock("acl", nil).Body()
	acl.SetAttributeValue("enabled", cty.True)
	acl.SetAttributeValue("default_policy", cty.StringVal("deny"))
	// The agent token set through the agent token API survives a restart.
	acl.SetAttributeValue("enable_token_persistence", cty.True)
	tlsb := b.AppendNewBlock("tls", nil).Body()
	d := tlsb.AppendNewBlock("defaults", nil).Body()
	d.SetAttributeValue("ca_file", cty.StringVal(s.CAFile()))
	d.SetAttributeValue("cert_file", cty.StringVal(certs.Consul.Cert))
	d.SetAttributeValue("key_file", cty.StringVal(certs.Consul.Key))
	d.SetAttributeValue("verify_incoming", cty.True)
	d.SetAttributeValue("verify_outgoing", cty.True)
	rpc := tlsb.AppendNewBlock("internal_rpc", nil).Body()
	rpc.SetAttributeValue("verify_server_hostname", cty.True)
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
	if s.state.Secure {
		certs := s.certs(s.nodes()[0])
		l.SetAttributeValue("tls_cert_file", cty.StringVal(certs.Vault.Cert))
		l.SetAttributeValue("tls_key_file", cty.StringVal(certs.Vault.Key))
		l.SetAttributeValue("tls_min_version", cty.StringVal("tls12"))
	} else {
		l.SetAttributeValue("tls_disable", cty.True)
	}
	b.SetAttributeValue("api_addr", cty.StringVal(s.VaultAddr()))
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
	if s.state.Secure {
		certs := s.certs(s.nodes()[0])
		b.AppendNewBlock("acl", nil).Body().SetAttributeValue("enabled", cty.True)
		t := b.AppendNewBlock("tls", nil).Body()
		t.SetAttributeValue("http", cty.True)
		t.SetAttributeValue("rpc", cty.True)
		t.SetAttributeValue("ca_file", cty.StringVal(s.CAFile()))
		t.SetAttributeValue("cert_file", cty.StringVal(certs.Nomad.Cert))
		t.SetAttributeValue("key_file", cty.StringVal(certs.Nomad.Key))
		// RPC is mutual: a server accepts only server.global.nomad and
		// client.global.nomad certificates from this CA.
		t.SetAttributeValue("verify_server_hostname", cty.True)
		// HTTPS clients are not asked for certificates: Vault fetches the
		// JWKS and has no client certificate to offer; ACLs guard the API.
		t.SetAttributeValue("verify_https_client", cty.False)
	}
	return f, b
}

// nomadConsulVault is the consul and vault blocks of a Nomad agent whose
// Consul token is that of role ("nomad-server" or "nomad-client").
func (s *Stack) nomadConsulVault(b *hclwrite.Body, role string) (consul, vault *hclwrite.Body) {
	p := s.Ports
	consul = b.AppendNewBlock("consul", nil).Body()
	consul.SetAttributeValue("address", cty.StringVal(loopback(p.ConsulHTTP)))
	vault = b.AppendNewBlock("vault", nil).Body()
	vault.SetAttributeValue("enabled", cty.True)
	vault.SetAttributeValue("address", cty.StringVal(s.VaultAddr()))
	vault.SetAttributeValue("jwt_auth_backend_path", cty.StringVal(JWTAuthPath))
	if s.state.Secure {
		certs := s.certs(s.nodes()[0])
		consul.SetAttributeValue("ssl", cty.True)
		consul.SetAttributeValue("verify_ssl", cty.True)
		consul.SetAttributeValue("ca_file", cty.StringVal(s.CAFile()))
		consul.SetAttributeValue("cert_file", cty.StringVal(certs.Consul.Cert))
		consul.SetAttributeValue("key_file", cty.StringVal(certs.Consul.Key))
		consul.SetAttributeValue("token", cty.StringVal(s.agentConsulTokens[role]))
		vault.SetAttributeValue("ca_file", cty.StringVal(s.CAFile()))
	}
	return consul, vault
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
// deploymentGCThreshold is the dev stack's Nomad deployment_gc_threshold
// (see nomadServerConfig): 1,000,000 hours, about 114 years.
const deploymentGCThreshold = "1000000h"

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
	if s.state.Secure {
		server.SetAttributeValue("encrypt", cty.StringVal(s.state.NomadGossipKey))
	}
	// Jobs set memory_max as production does; without this Nomad ignores
	// it and warns on every plan.
	sched := server.AppendNewBlock("default_scheduler_config", nil).Body()
	sched.SetAttributeValue("memory_oversubscription_enabled", cty.True)
	// Nomad 1.11.3 sets a deployment's ModifyTime to 0 when it ends
	// (hashicorp/nomad#28210, fixed by #28225), so its deployment GC, every
	// 5 minutes, reaps a finished deployment at once instead of after the
	// 1h threshold: a failed release vanished from the UI's deployments
	// page minutes after its rollback. A threshold reaching back before
	// 1970 keeps them on the dev stack, whose life is short.
	server.SetAttributeValue("deployment_gc_threshold", cty.StringVal(deploymentGCThreshold))

	consul, vault := s.nomadConsulVault(b, "nomad-server")
	if s.state.Secure {
		// Tasks get a Consul identity and log in with it (auth method
		// nomad-workloads): under default deny a template reads Consul
		// with the task's own token only. Services still register with
		// the client agent's token.
		ti := consul.AppendNewBlock("task_identity", nil).Body()
		ti.SetAttributeValue("aud", strs(bootstrap.ConsulAudience))
		ti.SetAttributeValue("ttl", cty.StringVal("1h"))
	}
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
	// The node meta scripts/provision/client.sh gives every client: where
	// the ingress listens and whose Consul DNS it asks (pkg/render's
	// MetaIngressAddress, MetaConsulDNSAddr; render imports devstack in
	// its tests, so the names are repeated here), and a zone: one node,
	// one zone, so a job's spread_across_zones (a spread on meta.zone)
	// resolves here too.
	client.SetAttributeValue("meta", cty.ObjectVal(map[string]cty.Value{
		"ingress_address": cty.StringVal("127.0.0.1"),
		"consul_dns_addr": cty.StringVal(loopback(p.ConsulDNS)),
		"zone":            cty.StringVal(ClusterZones[0]),
	}))
	client.SetAttributeValue("options", cty.ObjectVal(map[string]cty.Value{
		"fingerprint.denylist": cty.StringVal(fingerprintDenylist),
		"driver.allowlist":     cty.StringVal("raw_exec,docker"),
	}))

	rawExec := b.AppendNewBlock("plugin", []string{"raw_exec"}).Body()
	rawExec.AppendNewBlock("config", nil).Body().SetAttributeValue("enabled", cty.True)

	_, _ = s.nomadConsulVault(b, "nomad-client")

	s.nomadTelemetry(b)
	return f
}

func (s *Stack) path(parts ...string) string {
	return filepath.Join(append([]string{s.Dir}, parts...)...)
}
