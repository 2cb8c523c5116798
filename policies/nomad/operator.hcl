# Nomad policy "operator": the people who run the cluster (on-call SREs).
#
# Held by: the operator role's tokens, issued to humans by `hstack bootstrap
# acl`; never by CI or a workload. It is everything a management token can do
# except manage ACLs themselves (policies and tokens stay with the bootstrap
# token, kept in Vault KV), so a leaked operator token cannot mint more tokens.

# Every job in every namespace, including exec into allocations and host
# volumes: operators debug production.
namespace "*" {
  policy       = "write"
  capabilities = ["alloc-node-exec"]

  variables {
    path "*" {
      capabilities = ["write", "read", "list", "destroy"]
    }
  }
}

# Drain, eligibility and GC of client nodes.
node {
  policy = "write"
}

# Agent members, monitor and join for incident work.
agent {
  policy = "write"
}

# Raft, autopilot and the scheduler configuration.
operator {
  policy = "write"
}

host_volume "*" {
  policy = "write"
}

plugin {
  policy = "read"
}

quota {
  policy = "write"
}
