package devstack

import (
	"fmt"
	"net"
	"strconv"
)

// Ports are the loopback ports of one dev stack.
type Ports struct {
	NomadHTTP     int `json:"nomad_http"`
	NomadRPC      int `json:"nomad_rpc"`
	NomadSerf     int `json:"nomad_serf"`
	NomadClient   int `json:"nomad_client_http"`
	ConsulHTTP    int `json:"consul_http"`
	ConsulDNS     int `json:"consul_dns"`
	ConsulServer  int `json:"consul_server"`
	ConsulSerfLAN int `json:"consul_serf_lan"`
	ConsulSerfWAN int `json:"consul_serf_wan"`
	ConsulGRPC    int `json:"consul_grpc"`
	VaultAPI      int `json:"vault_api"`
	VaultCluster  int `json:"vault_cluster"`
	Postgres      int `json:"postgres"`
}

// StandardPorts are the products' own defaults, so a developer's nomad,
// consul, vault and psql CLIs work against the dev stack unconfigured.
func StandardPorts() Ports {
	return Ports{
		NomadHTTP: 4646, NomadRPC: 4647, NomadSerf: 4648,
		// The client agent's own HTTP API; the CLIs talk to the server's.
		NomadClient: 4656,
		ConsulHTTP:  8500, ConsulDNS: 8600, ConsulServer: 8300,
		ConsulSerfLAN: 8301, ConsulSerfWAN: 8302, ConsulGRPC: 8502,
		VaultAPI: 8200, VaultCluster: 8201,
		Postgres: 5432,
	}
}

type namedPort struct {
	name string
	port *int
}

func (p *Ports) all() []namedPort {
	return []namedPort{
		{"nomad http", &p.NomadHTTP}, {"nomad rpc", &p.NomadRPC}, {"nomad serf", &p.NomadSerf}, {"nomad client http", &p.NomadClient},
		{"consul http", &p.ConsulHTTP}, {"consul dns", &p.ConsulDNS}, {"consul server", &p.ConsulServer},
		{"consul serf_lan", &p.ConsulSerfLAN}, {"consul serf_wan", &p.ConsulSerfWAN}, {"consul grpc", &p.ConsulGRPC},
		{"vault api", &p.VaultAPI}, {"vault cluster", &p.VaultCluster},
		{"postgres", &p.Postgres},
	}
}

// FreePorts asks the kernel for distinct free loopback ports. Tests use it so
// that stacks never collide with each other or with one a developer left up.
func FreePorts() (Ports, error) {
	var p Ports
	var held []net.Listener
	defer func() {
		for _, l := range held {
			_ = l.Close() // held only to keep the ports distinct; closing frees them
		}
	}()
	for _, np := range p.all() {
		// Hold every listener until all are chosen so no port is handed out twice.
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return p, fmt.Errorf("finding a free port for %s: %w", np.name, err)
		}
		held = append(held, l)
		*np.port = l.Addr().(*net.TCPAddr).Port
	}
	return p, nil
}

// PortInUseError names the port a component needs and cannot have.
type PortInUseError struct {
	Name string
	Port int
}

func (e *PortInUseError) Error() string {
	return fmt.Sprintf("port %d (%s) on 127.0.0.1 is already in use: stop whatever holds it, or run `hstack dev up --free-ports`", e.Port, e.Name)
}

// checkFree fails on the first port that cannot be bound, TCP or (for DNS and
// serf) UDP.
func (p Ports) checkFree() error {
	for _, np := range p.all() {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*np.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return &PortInUseError{Name: np.name, Port: *np.port}
		}
		_ = l.Close() // a probe: the port was free, which is all it asks
	}
	for _, np := range []namedPort{{"consul dns", &p.ConsulDNS}, {"consul serf_lan", &p.ConsulSerfLAN}, {"consul serf_wan", &p.ConsulSerfWAN}, {"nomad serf", &p.NomadSerf}} {
		c, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(*np.port)))
		if err != nil {
			return &PortInUseError{Name: np.name + " (udp)", Port: *np.port}
		}
		_ = c.Close() // a probe, as above
	}
	return nil
}
