package devstack

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/hstack-dev/hstack/pkg/provision"
)

// The loopback cluster of issue #12 (`hstack dev up --cluster`, not wired
// into Up yet): which nodes there are and what scripts/provision renders
// for each. Every address in 127.0.0.0/8 is loopback on Linux, so each node
// gets its own and the products' standard ports on it.

// ClusterZones are the zones clients are spread over, round robin.
var ClusterZones = []string{"zone-a", "zone-b", "zone-c"}

// Dynamic port ranges: each client its own slice of Nomad's default
// 20000-32000, so raw_exec tasks of two clients never collide on one
// host.
const (
	clusterMinDynamicPort = 20000
	clusterDynamicPorts   = 2000
)

// DefaultClusterNet is the /24 of loopback the cluster takes unless told
// otherwise: servers on .11-.13, clients on .21.., the Vault load
// balancer on .10.
const DefaultClusterNet = "127.0.0"

// CheckClusterNet says what is wrong with net as a cluster's network: the
// first three octets of a loopback /24 ("127.0.0", "127.0.1", "127.5.9").
func CheckClusterNet(net string) error {
	a, err := netip.ParseAddr(net + ".0")
	if err != nil || !a.Is4() || !a.IsLoopback() || strings.Count(net, ".") != 2 {
		return fmt.Errorf("cluster network %q: want the first three octets of a loopback address, such as 127.0.0 or 127.0.1", net)
	}
	return nil
}

// ClusterNodes are servers server nodes on NET.11, .12, ... and clients
// client nodes on NET.21, .22, ... (net "" is DefaultClusterNet).
func ClusterNodes(net string, servers, clients int) ([]Node, error) {
	if net == "" {
		net = DefaultClusterNet
	}
	if err := CheckClusterNet(net); err != nil {
		return nil, err
	}
	if servers < 1 || servers > 7 || servers%2 == 0 {
		return nil, fmt.Errorf("%d servers: want an odd number from 1 to 7 (a Raft quorum)", servers)
	}
	if clients < 1 || clients > 6 {
		return nil, fmt.Errorf("%d clients: want 1 to 6 (each takes %d dynamic ports)", clients, clusterDynamicPorts)
	}
	var nodes []Node
	for i := 1; i <= servers; i++ {
		nodes = append(nodes, Node{Name: fmt.Sprintf("server-%d", i), Address: fmt.Sprintf("%s.%d", net, 10+i), Server: true})
	}
	for i := 1; i <= clients; i++ {
		nodes = append(nodes, Node{Name: fmt.Sprintf("client-%d", i), Address: fmt.Sprintf("%s.%d", net, 20+i), Client: true})
	}
	return nodes, nil
}

// ClusterRenders are the role-script runs that render nodes into
// <dir>/<node>, in order: server.sh then vault.sh --colocated on a server,
// client.sh on a client. With secrets ("" for a plain cluster) they are in
// production mode with the node's directory WriteClusterSecrets laid out,
// as in Vagrant.
func ClusterRenders(dir string, nodes []Node, secrets string) []provision.Node {
	var servers, vaults []string
	scheme := "http"
	if secrets != "" {
		scheme = "https"
	}
	for _, n := range nodes {
		if n.Server {
			servers = append(servers, n.Address)
			vaults = append(vaults, scheme+"://"+n.Address+":8200")
		}
	}
	var out []provision.Node
	client := 0
	for _, n := range nodes {
		base := provision.Node{Root: filepath.Join(dir, n.Name), Name: n.Name, Bind: n.Address, Servers: servers}
		if secrets != "" {
			nd := NodeDir(secrets, n.Name)
			base.Secure = true
			base.TLSDir = filepath.Join(nd, "tls")
			base.GossipKey = filepath.Join(nd, "gossip.key")
		}
		if n.Server {
			s := base
			s.Role = "server"
			s.BootstrapExpect = len(servers)
			if secrets != "" {
				s.NomadKey = filepath.Join(NodeDir(secrets, n.Name), "nomad-gossip.key")
			}
			v := base
			v.Role = "vault"
			v.Colocated = true
			v.BootstrapExpect = len(servers)
			for i, a := range vaults {
				if servers[i] != n.Address {
					v.VaultPeers = append(v.VaultPeers, a)
				}
			}
			out = append(out, s, v)
			continue
		}
		c := base
		c.Role = "client"
		c.Zone = ClusterZones[client%len(ClusterZones)]
		c.RawExec = true
		// `dev down` stops every client at once: a drain would have nowhere
		// to go, and would hold each client up to its deadline.
		c.DrainDeadline = "off"
		c.MinDynamicPort = clusterMinDynamicPort + client*clusterDynamicPorts
		c.MaxDynamicPort = c.MinDynamicPort + clusterDynamicPorts - 1
		client++
		out = append(out, c)
	}
	return out
}
