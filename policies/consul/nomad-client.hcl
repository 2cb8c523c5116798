# Consul policy "nomad-client": the Consul token of every Nomad client agent
# (its consul.token setting).
#
# Held by: Nomad client agents only. A client registers its own
# "nomad-client" service and the services of the allocations it runs, with
# their health checks, and renders templates for tasks that have no Consul
# workload identity of their own.

# Read agent information (self) for the Consul version and datacenter.
agent_prefix "" {
  policy = "read"
}

# Register checks on this node; read other nodes for service lookups.
node_prefix "" {
  policy = "write"
}

# Register and deregister every workload's service: job names are not known
# in advance, and Nomad's own job submission rules decide who runs what.
service_prefix "" {
  policy = "write"
}

# Templates read app configuration from KV (hstack/<stack>/<app>/<version>/).
key_prefix "hstack/" {
  policy = "read"
}
