package cli

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/failover"
)

// serverProbe is one Nomad server as `hstack status` found it.
type serverProbe struct {
	Addr   string `json:"address"`
	Up     bool   `json:"up"`
	Leader string `json:"leader,omitempty"`
	Err    string `json:"error,omitempty"`
}

// probeTimeout bounds each server's answer: a server that is down must not
// make status hang (the failover client would keep trying for minutes).
const probeTimeout = 3 * time.Second

// probeNomadServers asks every server of HSTACK_NOMAD_ADDRS, all at once,
// who leads; nil when the variable is unset.
func probeNomadServers(c *cli.Context) ([]serverProbe, error) {
	list := os.Getenv(clients.EnvNomadAddrs)
	if list == "" {
		return nil, nil
	}
	servers, err := failover.Parse(list)
	if err != nil {
		return nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: %w", clients.EnvNomadAddrs, err)}
	}
	probes := make([]serverProbe, len(servers))
	var wg sync.WaitGroup
	for i, u := range servers {
		probes[i].Addr = u.Host
		cfg := ConfigFromContext(c)
		cfg.Nomad.Address, cfg.Nomad.Single = u.String(), true
		nc, err := clients.Nomad(cfg)
		if err != nil {
			return nil, &ExitError{Code: ExitUnreachable, Err: err}
		}
		wg.Add(1)
		go func(p *serverProbe) {
			defer wg.Done()
			type answer struct {
				leader string
				err    error
			}
			ch := make(chan answer, 1)
			go func() { l, err := nc.Status().Leader(); ch <- answer{l, err} }()
			select {
			case a := <-ch:
				p.Up, p.Leader = a.err == nil, a.leader
				if a.err != nil {
					p.Err = a.err.Error()
				}
			case <-time.After(probeTimeout):
				p.Err = fmt.Sprintf("no answer within %v", probeTimeout)
			}
		}(&probes[i])
	}
	wg.Wait()
	return probes, nil
}

// describeServers is the servers line of `hstack status`, and whether
// none answered.
func describeServers(probes []serverProbe) (string, bool) {
	var parts []string
	up := 0
	for _, p := range probes {
		switch {
		case !p.Up:
			parts = append(parts, p.Addr+" DOWN ("+firstLineOf(p.Err)+")")
		case p.Leader == "":
			up++
			parts = append(parts, p.Addr+" up, no leader")
		case strings.HasPrefix(p.Leader, strings.Split(p.Addr, ":")[0]+":"):
			up++
			parts = append(parts, p.Addr+" up (leader)")
		default:
			up++
			parts = append(parts, p.Addr+" up")
		}
	}
	return fmt.Sprintf("nomad servers: %d of %d up: %s", up, len(probes), strings.Join(parts, ", ")), up == 0
}

func firstLineOf(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}
