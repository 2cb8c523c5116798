package release

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/vaultdb"
	"github.com/hstack-dev/hstack/pkg/workloadid"
)

// Preflight checks, before anything is registered, that every service a
// release depends on can do its part: a release that cannot work is
// refused with the service and the fix, rather than registered and left
// to time out with allocations that cannot start.
type Preflight struct {
	Nomad  *nomadapi.Client
	Consul *consulapi.Client
	// Vault, when set, is checked: reachable, initialised, unsealed, and
	// the credential chain of Workload and each database Spec, the same
	// checks `hstack db check` runs.
	Vault    *vaultapi.Client
	Workload workloadid.Config
	Specs    []vaultdb.Spec
	// Prometheus, when set, is an address that must answer /-/ready.
	Prometheus string
	HTTP       *http.Client
	// Note receives what could not be checked (nil: dropped).
	Note func(format string, args ...any)
}

// Problem is one preflight failure.
type Problem struct {
	Service string `json:"service"`
	Check   string `json:"check"`
	Detail  string `json:"detail"`
}

func (p Problem) String() string { return fmt.Sprintf("%s: %s: %s", p.Service, p.Check, p.Detail) }

// Run returns every problem found; none means go.
func (p Preflight) Run(ctx context.Context) []Problem {
	var out []Problem
	add := func(service, check string, err error, fix string) bool {
		if err == nil {
			return true
		}
		detail := err.Error()
		if fix != "" {
			detail += ": " + fix
		}
		out = append(out, Problem{Service: service, Check: check, Detail: detail})
		return false
	}
	if _, _, err := p.Nomad.Jobs().PrefixList(""); err != nil {
		add("nomad", "reachable", err, "is Nomad running at "+p.Nomad.Address()+", and may NOMAD_TOKEN list jobs? (NOMAD_ADDR, --nomad-addr)")
	}
	if p.Consul != nil {
		leader, err := p.Consul.Status().Leader()
		if err == nil && leader == "" {
			err = fmt.Errorf("no leader")
		}
		add("consul", "reachable", err, "is Consul running? (CONSUL_HTTP_ADDR, --consul-addr)")
	}
	if p.Vault != nil {
		p.vault(ctx, add)
	}
	if p.Prometheus != "" {
		add("prometheus", "ready", p.prometheusReady(ctx), "the rollout runs analyses: is the monitoring job running, or is --prometheus-addr right?")
	}
	return out
}

func (p Preflight) vault(ctx context.Context, add func(service, check string, err error, fix string) bool) {
	h, err := p.Vault.Sys().HealthWithContext(ctx)
	if !add("vault", "reachable", err, "is Vault running at "+p.Vault.Address()+"? (VAULT_ADDR, --vault-addr)") {
		return
	}
	switch {
	case !h.Initialized:
		add("vault", "initialised", fmt.Errorf("vault at %s is not initialised", p.Vault.Address()), "initialise it (`hstack dev up` does for the dev stack)")
		return
	case h.Sealed:
		add("vault", "unsealed", fmt.Errorf("vault at %s is sealed", p.Vault.Address()), "unseal it (`vault operator unseal`): tasks cannot get their credentials")
		return
	}
	// The credential chain tasks will use: workload identity login, the
	// policy, each database's connection and roles. Reading it takes a
	// token; a deploy needs none (tasks log in with their own identity),
	// so without one the chain is left to `hstack db check`.
	if p.Vault.Token() == "" {
		if p.Note != nil {
			p.Note("preflight: no Vault token, so the credential chain was not checked (run `hstack db check` with one)")
		}
		return
	}
	for _, r := range workloadid.Check(ctx, p.Vault, p.Workload, p.HTTP) {
		if !r.OK {
			add("vault", "workload identity: "+r.Check, fmt.Errorf("%s", r.Detail), "")
		}
	}
	for _, s := range p.Specs {
		for _, r := range vaultdb.Check(ctx, p.Vault, s) {
			if !r.OK {
				add("vault", "database "+s.Mount+": "+r.Check, fmt.Errorf("%s", r.Detail), "")
			}
		}
	}
}

func (p Preflight) prometheusReady(ctx context.Context) error {
	hc := p.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(p.Prometheus, "/")+"/-/ready", nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close() // only the status is read
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/-/ready answered %s", p.Prometheus, resp.Status)
	}
	return nil
}
