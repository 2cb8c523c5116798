# Consul policy "hstack": the hstack operator token (`hstack services sync`,
# `hstack deploy` writing app configuration).
#
# Held by: humans and CI running hstack, next to the Nomad deployer token.

# `services sync` registers the stack's databases as external services on
# the local agent, and reads the agent's node name and services to sync them.
agent_prefix "" {
  policy = "read"
}
node_prefix "" {
  policy = "read"
}

# Register external services (databases) and read every service: the release
# gate waits for canaries in the catalog and health.
service_prefix "" {
  policy = "write"
}

# App configuration lives under hstack/<stack>/<app>/<version>/; deploy
# writes a version, and prunes old ones.
key_prefix "hstack/" {
  policy = "write"
}
