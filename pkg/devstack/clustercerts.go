package devstack

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Cluster secrets for hosts hstack does not start itself (the Vagrant
// VMs): the same PKI as a secure dev stack, laid out so each node's
// directory is exactly what scripts/provision takes as --tls-dir and
// --gossip-key-file, plus an env file the host sources to reach the
// cluster. Unlike the dev stack's throwaway CA, this CA's key is kept
// (ca-key.pem, 0600): the VMs outlive one command, and a client added
// later (HSTACK_CLIENTS raised) must be issued by the same CA.

// ClusterSecrets is what WriteClusterSecrets wrote.
type ClusterSecrets struct {
	Dir     string
	EnvFile string
	// Issued are the nodes that got certificates this time; nodes issued
	// before keep theirs.
	Issued []string
}

// NodeDir is where node's --tls-dir (tls/) and gossip key files live.
func NodeDir(dir, node string) string { return filepath.Join(dir, "nodes", node) }

// WriteClusterSecrets makes (or reuses) a CA in dir, issues every node
// that has no certificates yet, makes the gossip keys once, and writes
// dir/cluster.env. Running it again with the same nodes changes nothing.
// Addresses must be IPs: the agents verify each other by IP SAN.
func WriteClusterSecrets(dir string, nodes []Node) (ClusterSecrets, error) {
	res := ClusterSecrets{Dir: dir, EnvFile: filepath.Join(dir, "cluster.env")}
	if err := CheckClusterNodes(nodes); err != nil {
		return res, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return res, err
	}
	work, err := os.MkdirTemp(dir, ".issue-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(work)
	p, err := loadOrCreateCA(dir, work)
	if err != nil {
		return res, err
	}
	gossip, err := keepKey(filepath.Join(dir, "gossip.key"))
	if err != nil {
		return res, err
	}
	nomadGossip, err := keepKey(filepath.Join(dir, "nomad-gossip.key"))
	if err != nil {
		return res, err
	}
	if _, err := os.Stat(filepath.Join(dir, "cli.pem")); errors.Is(err, os.ErrNotExist) {
		pair, err := p.issueCLI()
		if err != nil {
			return res, err
		}
		if err := moveTo(pair, filepath.Join(dir, "cli")); err != nil {
			return res, err
		}
	}
	for _, n := range nodes {
		nd := NodeDir(dir, n.Name)
		if _, err := os.Stat(filepath.Join(nd, "tls", "ca.pem")); err == nil {
			continue
		}
		if err := issueClusterNode(p, n, nd, gossip, nomadGossip); err != nil {
			return res, fmt.Errorf("node %s: %w", n.Name, err)
		}
		res.Issued = append(res.Issued, n.Name)
	}
	// #nosec G306 -- addresses and certificate paths only, no tokens or keys: a file to `source`.
	return res, os.WriteFile(res.EnvFile, []byte(ClusterEnv(dir, nodes)), 0o644)
}

// CheckClusterNodes says what is wrong with nodes as a cluster to issue
// for: names, IP addresses, at least one server.
func CheckClusterNodes(nodes []Node) error {
	var servers int
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.Name == "" || strings.ContainsAny(n.Name, "/\\ ") || n.Name[0] == '.' {
			return fmt.Errorf("node name %q: want a plain name such as server-1", n.Name)
		}
		if seen[n.Name] {
			return fmt.Errorf("node %s given twice", n.Name)
		}
		seen[n.Name] = true
		if net.ParseIP(n.Address) == nil {
			return fmt.Errorf("node %s: address %q is not an IP address", n.Name, n.Address)
		}
		if n.Server {
			servers++
		}
	}
	if servers == 0 {
		return errors.New("a cluster needs at least one server node")
	}
	return nil
}

// loadOrCreateCA reuses dir/ca.pem and dir/ca-key.pem, or makes them; the
// pki issues into work.
func loadOrCreateCA(dir, work string) (*pki, error) {
	certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca-key.pem")
	certPEM, cerr := os.ReadFile(certFile) // #nosec G304 -- the CA in the directory the operator gave `dev certs`
	keyPEM, kerr := os.ReadFile(keyFile)   // #nosec G304 -- as above
	if cerr == nil && kerr == nil {
		cb, _ := pem.Decode(certPEM)
		kb, _ := pem.Decode(keyPEM)
		if cb == nil || kb == nil {
			return nil, fmt.Errorf("%s or %s is not PEM; remove %s to start a new CA (and re-create the VMs)", certFile, keyFile, dir)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", certFile, err)
		}
		key, err := x509.ParseECPrivateKey(kb.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", keyFile, err)
		}
		return &pki{dir: work, caCert: cert, caKey: key}, nil
	}
	if !errors.Is(cerr, os.ErrNotExist) && cerr != nil {
		return nil, cerr
	}
	if cerr == nil || !errors.Is(kerr, os.ErrNotExist) {
		return nil, fmt.Errorf("%s without %s (or the reverse): remove %s to start a new CA", certFile, keyFile, dir)
	}
	p, err := newPKI(filepath.Join(work, "ca"))
	if err != nil {
		return nil, err
	}
	if err := writeCAKey(keyFile, p.caKey); err != nil {
		return nil, err
	}
	if err := os.Rename(p.CAFile(), certFile); err != nil {
		return nil, err
	}
	p.dir = work
	return p, nil
}

func writeCAKey(path string, key *ecdsa.PrivateKey) error {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	return writePEM(path, "EC PRIVATE KEY", der, 0o600)
}

// keepKey returns the gossip key in path, making one when there is none.
func keepKey(path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- the key file in the directory the operator gave `dev certs`
		return strings.TrimSpace(string(b)), nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return "", err
	}
	k := base64.StdEncoding.EncodeToString(key)
	return k, os.WriteFile(path, []byte(k+"\n"), 0o600)
}

// issueClusterNode lays out nd as scripts/provision wants it: tls/ca.pem,
// tls/<product>.pem, tls/<product>-key.pem, gossip.key and, on servers
// (Nomad gossip is between servers only), nomad-gossip.key.
func issueClusterNode(p *pki, n Node, nd, gossip, nomadGossip string) error {
	tmp := nd + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(tmp, "tls"), 0o700); err != nil {
		return err
	}
	c, err := p.issueNode(n)
	if err != nil {
		return err
	}
	pairs := map[string]CertPair{"consul": c.Consul, "nomad": c.Nomad}
	if n.Server {
		pairs["vault"] = c.Vault
	}
	for product, pair := range pairs {
		if err := moveTo(pair, filepath.Join(tmp, "tls", product)); err != nil {
			return err
		}
	}
	ca, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(nd)), "ca.pem"))
	if err != nil {
		return err
	}
	// #nosec G306 G703 -- the CA certificate is public; tmp is the node's staging directory hstack made.
	if err := os.WriteFile(filepath.Join(tmp, "tls", "ca.pem"), ca, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "gossip.key"), []byte(gossip+"\n"), 0o600); err != nil {
		return err
	}
	if n.Server {
		if err := os.WriteFile(filepath.Join(tmp, "nomad-gossip.key"), []byte(nomadGossip+"\n"), 0o600); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(nd); err != nil {
		return err
	}
	// The node's directory appears whole or not at all: a half-issued
	// node would otherwise count as issued on the next run.
	return os.Rename(tmp, nd)
}

// moveTo renames pair to base.pem and base-key.pem.
func moveTo(pair CertPair, base string) error {
	if err := os.Rename(pair.Cert, base+".pem"); err != nil {
		return err
	}
	return os.Rename(pair.Key, base+"-key.pem")
}

// ClusterEnv is the shell file that points the products' CLIs and hstack
// at the cluster's first server, over TLS with the CLI certificate. It
// holds paths only: the tokens are not known when it is written.
func ClusterEnv(dir string, nodes []Node) string {
	abs, err := filepath.Abs(dir)
	if err == nil {
		dir = abs
	}
	var servers []string
	for _, n := range nodes {
		if n.Server {
			servers = append(servers, n.Address)
		}
	}
	sort.Strings(servers)
	first := servers[0]
	ca, cert, key := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "cli.pem"), filepath.Join(dir, "cli-key.pem")
	vars := [][2]string{
		{"NOMAD_ADDR", "https://" + first + ":4646"},
		{"NOMAD_CACERT", ca}, {"NOMAD_CLIENT_CERT", cert}, {"NOMAD_CLIENT_KEY", key},
		{"CONSUL_HTTP_ADDR", first + ":8501"}, {"CONSUL_HTTP_SSL", "true"},
		{"CONSUL_CACERT", ca}, {"CONSUL_CLIENT_CERT", cert}, {"CONSUL_CLIENT_KEY", key},
		{"VAULT_ADDR", "https://" + first + ":8200"},
		{"VAULT_CACERT", ca}, {"VAULT_CLIENT_CERT", cert}, {"VAULT_CLIENT_KEY", key},
	}
	var b strings.Builder
	b.WriteString("# hstack cluster: `source` this file. Written by `hstack dev certs`; paths only, no tokens.\n")
	fmt.Fprintf(&b, "# Servers: %s (any of them answers on 4646, 8501 and 8200).\n", strings.Join(servers, " "))
	b.WriteString("# Tokens: Vault's root token comes from `vault operator init` (once), Nomad's and Consul's\n")
	b.WriteString("# from `hstack bootstrap acl --print-once` (once); export them as VAULT_TOKEN, NOMAD_TOKEN and\n")
	b.WriteString("# CONSUL_HTTP_TOKEN yourself. See vagrant/README.md.\n")
	for _, v := range vars {
		fmt.Fprintf(&b, "export %s=%s\n", v[0], shellQuote(v[1]))
	}
	return b.String()
}
