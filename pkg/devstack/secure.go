package devstack

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/bootstrap"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/policies"
)

// tlsDir holds a secure stack's CA and certificates.
const tlsDir = "tls"

// nodes are the hosts of the stack. The single-node stack runs every agent
// on one; a cluster lists several, each issued its own certificates.
func (s *Stack) nodes() []Node {
	if s.state.Cluster != nil {
		return s.state.Cluster.Nodes
	}
	return []Node{{Name: "hstack-dev", Address: "127.0.0.1", Server: true, Client: true}}
}

// CAFile is the CA certificate of a secure stack ("" for a plain one).
func (s *Stack) CAFile() string { return s.caFileIfSecure() }

func (s *Stack) caFileIfSecure() string {
	if !s.state.Secure {
		return ""
	}
	return s.path(tlsDir, "ca.pem")
}

func (s *Stack) certPair(name string) CertPair {
	return CertPair{Cert: s.path(tlsDir, name+".pem"), Key: s.path(tlsDir, name+"-key.pem")}
}

// certs returns the certificates of node n's agents.
func (s *Stack) certs(n Node) AgentCerts {
	c := AgentCerts{Nomad: s.certPair(n.Name + "-nomad"), Consul: s.certPair(n.Name + "-consul")}
	if n.Server {
		c.Vault = s.certPair(n.Name + "-vault")
	}
	return c
}

// cliCert is the client certificate for people and hstack (Consul verifies
// client certificates on HTTPS).
func (s *Stack) cliCert() CertPair { return s.certPair("cli") }

// makePKI makes a fresh CA, every node's agent certificates, the CLI's
// certificate, and the Consul and Nomad gossip keys.
func (s *Stack) makePKI() error {
	if s.state.Cluster != nil {
		return s.makeClusterPKI()
	}
	p, err := newPKI(s.path(tlsDir))
	if err != nil {
		return err
	}
	for _, n := range s.nodes() {
		if _, err := p.issueNode(n); err != nil {
			return err
		}
	}
	if _, err := p.issueCLI(); err != nil {
		return err
	}
	for _, k := range []*string{&s.state.GossipKey, &s.state.NomadGossipKey} {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return err
		}
		*k = base64.StdEncoding.EncodeToString(key)
	}
	return nil
}

// makeClusterPKI lays a cluster's secrets out as the provisioning scripts
// take them (WriteClusterSecrets, as for Vagrant), in tls/ of a fresh
// directory: the CA, the CLI's certificate, and per node its agents'
// certificates and the gossip keys. The CA key is removed again: as on
// the single node, nothing issues certificates after `dev up`.
func (s *Stack) makeClusterPKI() error {
	dir := s.path(tlsDir)
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	res, err := WriteClusterSecrets(dir, s.state.Cluster.Nodes)
	if err != nil {
		return err
	}
	// dev.env points at the cluster instead, with its tokens.
	for _, f := range []string{filepath.Join(dir, "ca-key.pem"), res.EnvFile} {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	for f, k := range map[string]*string{"gossip.key": &s.state.GossipKey, "nomad-gossip.key": &s.state.NomadGossipKey} {
		b, err := os.ReadFile(filepath.Join(dir, f)) // #nosec G304 -- the key WriteClusterSecrets just wrote in the stack's directory
		if err != nil {
			return err
		}
		*k = strings.TrimSpace(string(b))
	}
	return nil
}

// clusterSecrets is the directory of a secure cluster's node secrets
// ("" for a plain cluster), as ClusterRenders takes it.
func (s *Stack) clusterSecrets() string {
	if !s.state.Secure {
		return ""
	}
	return s.path(tlsDir)
}

// httpClient is for the one call outside the products' API libraries:
// Nomad's public JWKS document.
func (s *Stack) httpClient() *http.Client {
	if !s.state.Secure {
		return http.DefaultClient
	}
	pool := x509.NewCertPool()
	if b, err := os.ReadFile(s.CAFile()); err == nil { // #nosec G304 -- the stack's own CA certificate, in its directory
		pool.AppendCertsFromPEM(b)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
	}}
}

// secureEnv is what the products' CLIs (and hstack) read to talk to a
// secure stack.
func (s *Stack) secureEnv() [][2]string {
	cli := s.cliCert()
	return [][2]string{
		{"NOMAD_CACERT", s.CAFile()},
		{"NOMAD_CLIENT_CERT", cli.Cert},
		{"NOMAD_CLIENT_KEY", cli.Key},
		{"NOMAD_TOKEN", s.state.NomadToken},
		{"CONSUL_HTTP_SSL", "true"},
		{"CONSUL_CACERT", s.CAFile()},
		{"CONSUL_CLIENT_CERT", cli.Cert},
		{"CONSUL_CLIENT_KEY", cli.Key},
		{"CONSUL_HTTP_TOKEN", s.state.ConsulToken},
		{"VAULT_CACERT", s.CAFile()},
		{"VAULT_CLIENT_CERT", cli.Cert},
		{"VAULT_CLIENT_KEY", cli.Key},
	}
}

// ClientConfig is how hstack's own commands reach the stack (addresses,
// TLS, the stack's tokens), as `source dev.env` would set it up.
func (s *Stack) ClientConfig() clients.Config {
	tlsc := clients.TLSConfig{}
	if s.state.Secure {
		cli := s.cliCert()
		tlsc = clients.TLSConfig{CACert: s.CAFile(), ClientCert: cli.Cert, ClientKey: cli.Key}
	}
	return clients.Config{
		Nomad:  clients.NomadConfig{Address: s.NomadAddr(), Token: clients.Secret(s.state.NomadToken), TLS: tlsc},
		Consul: clients.ConsulConfig{Address: s.scheme() + "://" + s.ConsulAddr(), Token: clients.Secret(s.state.ConsulToken), TLS: tlsc},
		Vault:  clients.VaultConfig{Address: s.VaultAddr(), Token: clients.Secret(s.state.VaultToken), TLS: tlsc},
	}
}

// bootstrapOptions point pkg/bootstrap at the stack, with no token of its
// own: a fresh stack is bootstrapped, never adopted.
func (s *Stack) bootstrapOptions(vc *vaultapi.Client) bootstrap.Options {
	cfg := s.ClientConfig()
	cfg.Nomad.Token, cfg.Consul.Token = "", ""
	o := bootstrap.Options{Policies: policies.FS, Vault: vc, Consul: &cfg.Consul, Nomad: &cfg.Nomad}
	// Consul fetches the key set when a task logs in, after Nomad is up.
	jwks := &bootstrap.JWKS{URL: s.NomadAddr() + "/.well-known/jwks.json"}
	if ca, err := os.ReadFile(s.CAFile()); err == nil { // #nosec G304 -- the stack's own CA certificate, in its directory
		jwks.CAPEM = string(ca)
	}
	o.NomadJWKS = jwks
	if s.state.Cluster != nil {
		o.ConsulAgents = s.clusterConsulAgents()
	}
	return o
}

// AuditLog is the file audit device of a secure stack's Vault.
func (s *Stack) AuditLog() string { return s.path("logs", "vault-audit.log") }

// secureVaultAndConsul turns on Vault's audit log, then bootstraps Vault
// (KV, policies, tokens) and Consul's ACLs: the Nomad agents need their
// Consul tokens in their configs before they start.
func (s *Stack) secureVaultAndConsul(ctx context.Context) error {
	vc, err := s.VaultClient()
	if err != nil {
		return err
	}
	if err := vc.Sys().EnableAuditWithOptionsWithContext(ctx, "file", &vaultapi.EnableAuditOptions{
		Type: "file", Options: map[string]string{"file_path": s.AuditLog(), "mode": "0600"},
	}); err != nil {
		return fmt.Errorf("vault: enable file audit device: %w", err)
	}
	o := s.bootstrapOptions(vc)
	o.Nomad = nil
	// Consul checks the JWKS URL when the auth method is created, and Nomad
	// is not up yet: secureNomad adds the auth method.
	o.NomadJWKS = nil
	// A fresh leader may not take an ACL bootstrap yet; bootstrap is
	// idempotent (the management token is in KV the moment it exists),
	// so it is simply retried.
	var res *bootstrap.Result
	if err := s.retry(ctx, "consul acl bootstrap", func(ctx context.Context) error {
		var err error
		res, err = bootstrap.Run(ctx, o)
		return err
	}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	s.agentConsulTokens = map[string]string{}
	for _, role := range []string{"nomad-server", "nomad-client"} {
		s.agentConsulTokens[role] = res.Tokens["consul/"+role].Secret.Reveal()
	}
	s.state.ConsulToken = res.Tokens["consul/hstack"].Secret.Reveal()
	s.clientsMu.Lock()
	s.consul = nil
	s.clientsMu.Unlock()
	s.logf("acl: Vault policies and tokens, Consul ACLs bootstrapped (%d objects; tokens kept in Vault at %s/%s/)", len(res.Changes), bootstrap.KVMount, bootstrap.KVPrefix)
	return s.saveState()
}

// secureNomad bootstraps Nomad's ACLs once its server has a leader.
func (s *Stack) secureNomad(ctx context.Context) error {
	vc, err := s.VaultClient()
	if err != nil {
		return err
	}
	o := s.bootstrapOptions(vc)
	o.Consul = nil
	var res *bootstrap.Result
	if err := s.retry(ctx, "nomad acl bootstrap", func(ctx context.Context) error {
		res = &bootstrap.Result{}
		return bootstrap.Nomad(ctx, o, res)
	}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	// Now that Nomad serves its JWKS, Consul can trust its workload
	// identities: the same bootstrap again, which adopts Consul through the
	// management token in Vault KV and adds only the auth method.
	oc := s.bootstrapOptions(vc)
	oc.Nomad = nil
	if err := s.retry(ctx, "consul auth method for Nomad workloads", func(ctx context.Context) error {
		_, err := bootstrap.Run(ctx, oc)
		return err
	}); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	s.state.NomadToken = res.Tokens["nomad/operator"].Secret.Reveal()
	s.clientsMu.Lock()
	if s.nomad != nil {
		s.nomad.SetSecretID(s.state.NomadToken)
	}
	for _, c := range s.nodeClients.nomad {
		c.SetSecretID(s.state.NomadToken)
	}
	s.clientsMu.Unlock()
	s.logf("acl: Nomad ACLs bootstrapped (%d objects); dev.env holds the operator token", len(res.Changes))
	return s.saveState()
}

// Secrets are the secrets the stack itself holds, by what they are, for
// tests that prove none of them leaks: the Vault root token and unseal key,
// the Postgres superuser password, the gossip key and the stack's tokens.
func (s *Stack) Secrets() map[string]string {
	m := map[string]string{
		"vault root token": s.state.VaultToken, "vault unseal key": s.state.VaultUnsealKey,
		"postgres password": s.state.PGPassword, "consul gossip key": s.state.GossipKey, "nomad gossip key": s.state.NomadGossipKey,
		"nomad operator token": s.state.NomadToken, "consul hstack token": s.state.ConsulToken,
	}
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

// retry runs f until it succeeds or the stack's timeout passes. Unlike
// wait, each attempt gets a minute: a bootstrap is dozens of requests.
func (s *Stack) retry(ctx context.Context, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var last error
	for {
		actx, acancel := context.WithTimeout(ctx, time.Minute)
		last = f(actx)
		acancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: %w (last attempt: %v)", what, ctx.Err(), last)
		case <-time.After(time.Second):
		}
	}
}
