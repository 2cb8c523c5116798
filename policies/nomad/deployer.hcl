# Nomad policy "deployer": exactly what `hstack deploy|promote|abort|rollback|
# status|history` need in the stack's namespace, and nothing else.
#
# Held by: CI release jobs (the token is read from Vault KV by the
# ci-deployer Vault policy) and humans who release by hand.
namespace "default" {
  capabilities = [
    # Register, plan and revert jobs; promote and fail deployments (Nomad
    # checks submit-job for both); tag job versions for `hstack history`.
    "submit-job",
    # Parse the rendered HCL server-side, as `nomad job run` does.
    "parse-job",
    # Jobs, versions, deployments, evaluations and allocations: the watch
    # loop and `hstack status` read them.
    "list-jobs",
    "read-job",
    # The release gate and `hstack status` show a failing canary's last log
    # lines; AllocFS reads need read-fs as well.
    "read-logs",
    "read-fs",
  ]

  # The release record (pkg/rollout/record.go) and the release gate's
  # findings (pkg/release/gate.go) live in Nomad Variables; the deployer may
  # touch only those two trees, never an app's own variables.
  variables {
    path "hstack/releases/*" {
      capabilities = ["write", "read", "list"]
    }
    path "hstack/gate/*" {
      capabilities = ["write", "read", "list"]
    }
  }
}
