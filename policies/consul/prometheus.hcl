# Consul policy "prometheus": Prometheus' consul_sd_configs.
#
# Held by: the monitoring job's Prometheus. Service discovery needs to list
# services and their nodes, and read health; it never writes.
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
agent_prefix "" {
  policy = "read"
}
