package devstack

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// A secure stack's throwaway PKI: one CA, and one certificate per agent
// with the names each product checks. It lives in <dir>/tls and is made
// again on every `dev up --secure`, like the rest of the cluster.

// Node is one host of a stack: the single-node stack is one Node, a
// cluster (issue #12) several, each on its own loopback address.
type Node struct {
	// Name is the node's name, unique in the stack ("hstack-dev").
	Name string
	// Address is the IP the node's agents bind to.
	Address string
	// Server and Client say which agent roles run there.
	Server, Client bool
}

// CertPair is a PEM certificate and key on disk.
type CertPair struct {
	Cert, Key string
}

// Product-mandated names. Nomad checks server.<region>.nomad and
// client.<region>.nomad on RPC with verify_server_hostname; Consul checks
// server.<datacenter>.<domain> on server RPC. Everyone also reaches the
// HTTP APIs as localhost or by IP.
func nomadNames(n Node, region string) []string {
	var names []string
	if n.Server {
		names = append(names, "server."+region+".nomad")
	}
	if n.Client {
		names = append(names, "client."+region+".nomad")
	}
	return append(names, "localhost")
}

func consulNames(n Node, dc string) []string {
	names := []string{"localhost"}
	if n.Server {
		names = append(names, "server."+dc+".consul")
	}
	return append(names, "client."+dc+".consul")
}

func vaultNames() []string {
	return []string{"localhost", "vault.service.consul", "active.vault.service.consul"}
}

// pki issues the stack's certificates.
type pki struct {
	dir    string
	caCert *x509.Certificate
	caKey  *ecdsa.PrivateKey
}

// CAFile is the CA bundle every client of a secure stack verifies with.
func (p *pki) CAFile() string { return filepath.Join(p.dir, "ca.pem") }

// newPKI creates a fresh CA in dir (removing an older one).
func newPKI(dir string) (*pki, error) {
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "hstack dev CA", Organization: []string{"hstack"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	p := &pki{dir: dir, caCert: cert, caKey: key}
	// The CA's key stays in memory: nothing issues certificates after
	// `dev up`, so nothing on disk can mint more.
	if err := writePEM(p.CAFile(), "CERTIFICATE", der, 0o644); err != nil {
		return nil, err
	}
	return p, nil
}

// issue writes <name>.pem and <name>-key.pem, valid for both server and
// client authentication (agents are both: Nomad and Consul RPC is mutual).
func (p *pki) issue(name string, dnsNames []string, ips []string) (CertPair, error) {
	if p == nil {
		return CertPair{}, errors.New("no CA: the stack is not secure")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return CertPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"hstack"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(30 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     dnsNames,
	}
	for _, ip := range ips {
		parsed := net.ParseIP(ip)
		if parsed == nil {
			return CertPair{}, fmt.Errorf("certificate %s: %q is not an IP address", name, ip)
		}
		tmpl.IPAddresses = append(tmpl.IPAddresses, parsed)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.caCert, &key.PublicKey, p.caKey)
	if err != nil {
		return CertPair{}, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return CertPair{}, err
	}
	pair := CertPair{Cert: filepath.Join(p.dir, name+".pem"), Key: filepath.Join(p.dir, name+"-key.pem")}
	if err := writePEM(pair.Cert, "CERTIFICATE", der, 0o644); err != nil {
		return CertPair{}, err
	}
	if err := writePEM(pair.Key, "EC PRIVATE KEY", keyDER, 0o600); err != nil {
		return CertPair{}, err
	}
	return pair, nil
}

// AgentCerts are the certificates of one node's agents.
type AgentCerts struct {
	Nomad, Consul, Vault CertPair
}

// issueNode issues the certificates for every agent on n.
func (p *pki) issueNode(n Node) (AgentCerts, error) {
	ips := []string{n.Address, "127.0.0.1"}
	if n.Address == "127.0.0.1" {
		ips = ips[:1]
	}
	var c AgentCerts
	var err error
	if c.Nomad, err = p.issue(n.Name+"-nomad", nomadNames(n, "global"), ips); err != nil {
		return c, err
	}
	if c.Consul, err = p.issue(n.Name+"-consul", consulNames(n, "dc1"), ips); err != nil {
		return c, err
	}
	if n.Server {
		if c.Vault, err = p.issue(n.Name+"-vault", vaultNames(), ips); err != nil {
			return c, err
		}
	}
	return c, nil
}

// issueCLI is the certificate humans and hstack present where an API
// verifies client certificates (Consul's HTTPS with verify_incoming).
func (p *pki) issueCLI() (CertPair, error) {
	return p.issue("cli", []string{"cli.hstack"}, nil)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		panic(err)
	}
	return n
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	b := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
	return os.WriteFile(path, b, mode)
}
