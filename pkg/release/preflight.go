package release

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/rollout"
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

	// Jobs are the jobs the release registers. The tokens are proven to
	// be allowed what releasing them takes, with requests that change
	// nothing: a plan per job (submit-job), a read of its release record
	// (the Variables rule), and, with KVPrefix, a Consul check-and-set
	// that cannot succeed (Consul checks key_prefix write before the
	// index). A refusal is a problem naming the capability and the policy
	// that grants it, so nothing is registered with a token that would
	// fail halfway.
	Jobs     []*nomadapi.Job
	KVPrefix string
	// NomadToken and ConsulToken say whether a token was given at all,
	// which the message of a refusal tells apart.
	NomadToken, ConsulToken bool
}

// The policies in policies/ that grant what a release needs.
const (
	nomadDeployerPolicy = "policies/nomad/deployer.hcl"
	consulHstackPolicy  = "policies/consul/hstack.hcl"
)

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
	_, _, err := p.Nomad.Jobs().PrefixList("")
	switch {
	case err == nil:
		p.nomadACL(ctx, add)
	case clients.Classify(err) == clients.Denied:
		add("nomad", "acl: list-jobs", p.denied("Nomad", "NOMAD_TOKEN", p.NomadToken, "list the jobs: it needs capability list-jobs", nomadDeployerPolicy, err), "")
	default:
		add("nomad", "reachable", err, "is Nomad running at "+p.Nomad.Address()+"? (NOMAD_ADDR, --nomad-addr)")
	}
	if p.Consul != nil {
		leader, err := p.Consul.Status().Leader()
		if err == nil && leader == "" {
			err = fmt.Errorf("no leader")
		}
		if add("consul", "reachable", err, "is Consul running? (CONSUL_HTTP_ADDR, --consul-addr)") && p.KVPrefix != "" {
			_, _, err := p.Consul.KV().CAS(&consulapi.KVPair{Key: p.KVPrefix + ".hstack-acl-check", ModifyIndex: math.MaxUint64}, (&consulapi.WriteOptions{}).WithContext(ctx))
			if clients.Classify(err) == clients.Denied {
				add("consul", "acl: key_prefix write", p.denied("Consul", "CONSUL_HTTP_TOKEN", p.ConsulToken, fmt.Sprintf("write the stack's configuration: it needs key_prefix %q policy = \"write\"", p.KVPrefix), consulHstackPolicy, err), "")
			}
		}
	}
	if p.Vault != nil {
		p.vault(ctx, add)
	}
	if p.Prometheus != "" {
		add("prometheus", "ready", p.prometheusReady(ctx), "the rollout runs analyses: is the monitoring job running, or is --prometheus-addr right?")
	}
	return out
}

// nomadACL proves the Nomad token may release each job. Other failures
// of these probes are left to the release itself, which reports them
// with their context (a plan Nomad rejects is bad input).
func (p Preflight) nomadACL(ctx context.Context, add func(service, check string, err error, fix string) bool) {
	for _, j := range p.Jobs {
		ns := "default"
		if j.Namespace != nil && *j.Namespace != "" {
			ns = *j.Namespace
		}
		name := ""
		if j.ID != nil {
			name = *j.ID
		}
		if _, _, err := p.Nomad.Jobs().Plan(j, false, (&nomadapi.WriteOptions{}).WithContext(ctx)); clients.Classify(err) == clients.Denied {
			add("nomad", "acl: submit-job", p.denied("Nomad", "NOMAD_TOKEN", p.NomadToken, fmt.Sprintf("plan and submit job %s: it needs capability submit-job in namespace %q", name, ns), nomadDeployerPolicy, err), "")
			return // the same token and rule refuse the rest
		}
		v := rollout.ReleasesVariable(name)
		if _, _, err := p.Nomad.Variables().Peek(v, (&nomadapi.QueryOptions{}).WithContext(ctx)); clients.Classify(err) == clients.Denied {
			add("nomad", "acl: variables", p.denied("Nomad", "NOMAD_TOKEN", p.NomadToken, fmt.Sprintf("read and write the release record %s: it needs variables path \"hstack/releases/*\" capabilities write, read in namespace %q", v, ns), nomadDeployerPolicy, err), "")
			return
		}
	}
}

// denied is the error for a refused token: which product, what the
// operation needs, which policy grants it, and whether a token was given
// at all.
func (p Preflight) denied(product, tokenVar string, given bool, need, policy string, err error) error {
	who := "the token in " + tokenVar
	if !given {
		who = "no token (" + tokenVar + " is not set, and " + product + "'s ACLs deny anonymous requests)"
	}
	return fmt.Errorf("%s refused %s to %s (granted by %s): %w", product, who, need, policy, err)
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
			switch {
			case !r.OK && r.Denied:
				// Least privilege: a deploying token need not issue
				// credentials (tasks get theirs through their own
				// identity), so what it may not read is not checked.
				if p.Note != nil {
					p.Note("preflight: the Vault token may not check %s under %s/, so it was not checked (%s); `hstack db check` with a token that may", r.Check, s.Mount, r.Detail)
				}
			case !r.OK:
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
