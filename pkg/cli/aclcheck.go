package cli

import (
	"context"
	"fmt"
	"math"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/rollout"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// aclPreflight proves, before deploy changes anything, that the tokens may
// do what a release needs, with requests that change nothing: a Nomad plan
// per job (submit-job), a read of the job's release record (the Variables
// rule), and a Consul KV check-and-set that cannot succeed (key_prefix
// write: Consul checks the ACL before the index). A refusal exits 3 naming
// the capability, with nothing applied: no service, no KV, no job.
func aclPreflight(ctx context.Context, cfg clients.Config, st *stackfile.Stack, jobs []*render.Job, nc *nomadapi.Client, cc *consulapi.Client) error {
	for _, j := range jobs {
		ns := "default"
		if j.Job.Namespace != nil && *j.Job.Namespace != "" {
			ns = *j.Job.Namespace
		}
		if _, _, err := nc.Jobs().Plan(j.Job, false, (&nomadapi.WriteOptions{}).WithContext(ctx)); isACLDenied(err) {
			return denied("Nomad", "NOMAD_TOKEN", cfg.Nomad.Token == "", fmt.Sprintf("plan and submit job %s: it needs capability submit-job in namespace %q", j.Name, ns), "policies/nomad/deployer.hcl", err)
		}
		if _, _, err := nc.Variables().Read(rollout.ReleasesVariable(j.Name), (&nomadapi.QueryOptions{}).WithContext(ctx)); isACLDenied(err) {
			return denied("Nomad", "NOMAD_TOKEN", cfg.Nomad.Token == "", fmt.Sprintf("read and write the release record %s: it needs variables path \"hstack/releases/*\" capabilities write, read in namespace %q", rollout.ReleasesVariable(j.Name), ns), "policies/nomad/deployer.hcl", err)
		}
	}
	key := appconfig.StackPrefix(st.Name) + ".hstack-acl-check"
	_, _, err := cc.KV().CAS(&consulapi.KVPair{Key: key, ModifyIndex: math.MaxUint64}, (&consulapi.WriteOptions{}).WithContext(ctx))
	if isACLDenied(err) {
		return denied("Consul", "CONSUL_HTTP_TOKEN", cfg.Consul.Token == "", fmt.Sprintf("write the stack's configuration: it needs key_prefix %q policy = \"write\"", appconfig.StackPrefix(st.Name)), "policies/consul/hstack.hcl", err)
	}
	return nil
}

func isACLDenied(err error) bool {
	if err == nil {
		return false
	}
	m := err.Error()
	return strings.Contains(m, "403") || strings.Contains(m, "Permission denied") || strings.Contains(m, "ACL not found")
}

// denied is the exit-3 error for a refused token: which product, what the
// operation needs, which policy grants it, and whether a token was given
// at all.
func denied(product, tokenVar string, noToken bool, need, policy string, err error) error {
	who := "the token in " + tokenVar
	if noToken {
		who = "no token (" + tokenVar + " is not set, and " + product + "'s ACLs deny anonymous requests)"
	}
	return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("%s refused %s to %s (granted by %s): %w", product, who, need, policy, err)}
}
