# Nomad policy "readonly": people watching deployments in the Nomad UI
# (developers, product owners, support).
#
# Held by: the readonly role's tokens, issued to humans. It reads jobs,
# deployments and allocations; it cannot submit, promote, fail or stop
# anything. It deliberately lacks read-logs and read-fs: app logs may hold
# customer data, and a stack that wants its watchers to read logs grants
# them through the operator or deployer token instead.
namespace "default" {
  capabilities = ["list-jobs", "read-job", "read-job-scaling"]
}

# Where allocations run (node names and status in the UI), not drain.
node {
  policy = "read"
}
