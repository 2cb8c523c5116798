# Consul policy template "app": one policy per app task, named
# app-<job>, from this template (the database service and KV prefix
# placeholders below are filled in from hstack.hcl; an app without a
# database gets no service rule).
#
# Held by: the Consul token a task gets through its workload identity.
#
# The credentials template looks the database up in the catalog
# ({{ range service "<db>" }}). Without the read rule below the template
# does not fail: Consul hides a service a token may not read, so the
# template waits forever for an instance. This rule is what lets it through.
service "DATABASE_SERVICE" {
  policy = "read"
}

# The task's own configuration, rendered into its environment.
key_prefix "APP_KV_PREFIX" {
  policy = "read"
}

# Every service lookup resolves node addresses.
node_prefix "" {
  policy = "read"
}
