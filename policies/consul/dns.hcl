# Consul policy "dns": the DNS token of every Consul agent (set through the
# agent token API, `consul acl set-agent-token dns`).
#
# Held by: Consul agents, for DNS queries only. The ingress resolves app
# backends through Consul DNS SRV records, and DNS requests carry no token;
# without this the agent would answer them as anonymous, and default deny
# hides every service. HTTP requests without a token stay anonymous (denied).

# <service>.service.consul and SRV records.
service_prefix "" {
  policy = "read"
}

# Node addresses in the answers.
node_prefix "" {
  policy = "read"
}

# Prepared queries (<query>.query.consul).
query_prefix "" {
  policy = "read"
}
