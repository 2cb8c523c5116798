package bootstrap_test

import (
	"testing"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// TestPolicyTableDocumented: docs/security.md's allowed/denied table is
// exactly the table TestSecureStack runs against the real servers.
func TestPolicyTableDocumented(t *testing.T) {
	var want [][]string
	for _, r := range policyRows(&tableOps{}) {
		policy := r.policy
		if policy == "anonymous" {
			policy = "(no token)"
		}
		want = append(want, []string{r.product, policy, r.op, r.want})
	}
	devstacktest.SameTable(t, "docs/security.md", "## The allowed/denied table", want)
}
