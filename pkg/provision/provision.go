// Package provision drives scripts/provision (the role entry points that
// Packer bakes into the images and that a local cluster renders into a
// directory per node) and lays out a release mirror for them from local
// binaries, so the scripts run with no internet.
package provision

import (
	"archive/zip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Roles are the entry points under scripts/provision: <role>.sh.
var Roles = []string{"server", "client", "vault"}

// Products each role installs, in the order the script installs them.
var Products = map[string][]string{
	"server": {"consul", "nomad"},
	"client": {"consul", "nomad"},
	"vault":  {"consul", "vault"},
}

// Release is one product's binary at one version.
type Release struct {
	Name    string // nomad, consul, vault
	Version string // without the leading v
	Binary  string // path of the binary to publish
}

// ZipName and SumsName are releases.hashicorp.com's file names.
func ZipName(name, version string) string  { return fmt.Sprintf("%s_%s_linux_amd64.zip", name, version) }
func SumsName(name, version string) string { return fmt.Sprintf("%s_%s_SHA256SUMS", name, version) }

// WriteMirror lays releases out under dir as releases.hashicorp.com does
// (<name>/<version>/<name>_<version>_linux_amd64.zip holding the binary as
// <name>, and <name>_<version>_SHA256SUMS beside it), which is what the
// scripts' --source accepts as a directory or served over HTTP.
func WriteMirror(dir string, releases []Release) error {
	for _, r := range releases {
		d := filepath.Join(dir, r.Name, r.Version)
		// #nosec G301 -- a mirror of public release archives, served to the VMs over HTTP.
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
		zipPath := filepath.Join(d, ZipName(r.Name, r.Version))
		if err := zipBinary(zipPath, r.Name, r.Binary); err != nil {
			return fmt.Errorf("%s %s: %w", r.Name, r.Version, err)
		}
		sum, err := sha256File(zipPath)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("%s  %s\n", sum, ZipName(r.Name, r.Version))
		// #nosec G306 -- public checksums of the mirror, as above.
		if err := os.WriteFile(filepath.Join(d, SumsName(r.Name, r.Version)), []byte(line), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func zipBinary(dest, name, bin string) error {
	src, err := os.Open(bin) // #nosec G304 -- a release binary pkg/tools found
	if err != nil {
		return err
	}
	defer src.Close()
	f, err := os.Create(dest) // #nosec G304 -- the archive's place in the mirror WriteMirror lays out
	if err != nil {
		return err
	}
	zw := zip.NewWriter(f)
	h := &zip.FileHeader{Name: name, Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err == nil {
		_, err = io.Copy(w, src)
	}
	if cerr := zw.Close(); err == nil {
		err = cerr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func sha256File(p string) (string, error) {
	f, err := os.Open(p) // #nosec G304 -- the archive zipBinary just wrote
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Node is what a role script needs to render one node's configs in static
// join mode, as on loopback or in Vagrant: explicit addresses, the data
// dirs inside Root.
type Node struct {
	Role       string // server, client, vault
	Root       string // the node's directory; configs and data go under it
	Name       string
	Bind       string   // address the agents bind and advertise
	Servers    []string // Consul/Nomad server addresses to join
	VaultPeers []string // Vault API addresses (http(s)://host:8200) to join
	Secure     bool     // production mode: TLS, gossip encryption, ACLs
	TLSDir     string   // ca.pem, <product>.pem, <product>-key.pem (Secure)
	GossipKey  string   // file holding Consul's gossip key (Secure)
	NomadKey   string   // file holding Nomad's gossip key (Secure)
	Zone       string   // client node meta zone
	RawExec    bool
	// Colocated is vault.sh on a server node: keep its Consul server config.
	Colocated bool
	// DrainDeadline is a client's --drain-deadline: how long its
	// allocations get to move when Nomad stops ("off": no drain; "": the
	// mode's default, 5m in production, none in dev).
	DrainDeadline string
	// MinDynamicPort and MaxDynamicPort give each client its own range.
	MinDynamicPort, MaxDynamicPort int
	BootstrapExpect                int
	// VaultPort and VaultClusterPort replace 8200 and 8201.
	VaultPort, VaultClusterPort int
	// VaultRaftMultiplier is Vault's Raft performance_multiplier (1-10);
	// 0 keeps Vault's production default.
	VaultRaftMultiplier int
	// Extra maps a product to files copied into its config dir, e.g. a
	// ports override.
	Extra map[string][]string
}

// Args are the arguments of scripts/provision/<role>.sh that render n with
// no packages, users or systemd: `--phase configure`, or with source set
// `--phase all` (binaries installed from the mirror at source too).
func (n Node) Args(source string) []string {
	a := []string{"--root", n.Root, "--join", "static", "--skip-packages"}
	if source != "" {
		a = append(a, "--source", source, "--phase", "all")
	} else {
		a = append(a, "--phase", "configure")
	}
	mode := "dev"
	if n.Secure {
		mode = "prod"
	}
	a = append(a, "--mode", mode)
	add := func(flag, v string) {
		if v != "" {
			a = append(a, flag, v)
		}
	}
	add("--servers", strings.Join(n.Servers, ","))
	add("--vault-peers", strings.Join(n.VaultPeers, ","))
	add("--bind", n.Bind)
	add("--client-addr", n.Bind)
	add("--node-name", n.Name)
	add("--zone", n.Zone)
	add("--tls-dir", n.TLSDir)
	add("--gossip-key-file", n.GossipKey)
	add("--nomad-gossip-key-file", n.NomadKey)
	add("--drain-deadline", n.DrainDeadline)
	if n.BootstrapExpect > 0 {
		add("--bootstrap-expect", fmt.Sprint(n.BootstrapExpect))
	}
	if n.MinDynamicPort > 0 {
		add("--min-dynamic-port", fmt.Sprint(n.MinDynamicPort))
	}
	if n.MaxDynamicPort > 0 {
		add("--max-dynamic-port", fmt.Sprint(n.MaxDynamicPort))
	}
	if n.VaultPort > 0 {
		add("--vault-port", fmt.Sprint(n.VaultPort))
	}
	if n.VaultClusterPort > 0 {
		add("--vault-cluster-port", fmt.Sprint(n.VaultClusterPort))
	}
	if n.VaultRaftMultiplier > 0 {
		add("--raft-performance-multiplier", fmt.Sprint(n.VaultRaftMultiplier))
	}
	if n.RawExec {
		a = append(a, "--raw-exec")
	}
	if n.Colocated {
		a = append(a, "--colocated")
	}
	products := make([]string, 0, len(n.Extra))
	for p := range n.Extra {
		products = append(products, p)
	}
	sort.Strings(products)
	for _, p := range products {
		for _, f := range n.Extra[p] {
			a = append(a, "--extra-config", p+"="+f)
		}
	}
	return a
}

// ConfigDir is where the rendered configs of product live under root.
func ConfigDir(root, product string) string {
	return filepath.Join(root, "etc", product+".d")
}
