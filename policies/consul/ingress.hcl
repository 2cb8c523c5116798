# Consul policy "ingress": the ingress (HAProxy with Consul-template
# rendered backends, or any Consul-aware proxy).
#
# Held by: the ingress job. It reads healthy instances of the apps it
# routes to; it needs node read to resolve their addresses. Nothing else.
service_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}
