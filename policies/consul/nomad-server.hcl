# Consul policy "nomad-server": the Consul token of every Nomad server agent
# (its consul.token setting).
#
# Held by: Nomad server agents only. Nomad servers register their own
# "nomad" service and health checks and look up other servers through the
# catalog to join; they register no workload.

# Read agent information (self) for the Consul version and datacenter.
agent_prefix "" {
  policy = "read"
}

# Servers discover each other and the clients through the catalog.
node_prefix "" {
  policy = "read"
}

# Register and deregister the "nomad" service (and its checks); read every
# service for discovery.
service_prefix "" {
  policy = "read"
}
service "nomad" {
  policy = "write"
}
