# Vault policy "hstack-admin": what `hstack db setup` and `hstack bootstrap
# acl` need to wire Vault the way hstack.hcl says.
#
# Held by: the platform team's admin token (and the dev stack's bootstrap).
# It is not root: it cannot touch other auth methods, seal, or audit.

# Mount and tune the database secrets engines and the KV engine.
path "sys/mounts" {
  capabilities = ["read"]
}
path "sys/mounts/*" {
  capabilities = ["create", "read", "update"]
}

# Enable the JWT auth method for Nomad workload identities and configure it.
path "sys/auth" {
  capabilities = ["read"]
}
path "sys/auth/jwt-nomad" {
  capabilities = ["create", "read", "update", "sudo"]
}
path "auth/jwt-nomad/*" {
  capabilities = ["create", "read", "update", "list"]
}

# Write the reviewed policies from policies/vault.
path "sys/policies/acl/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "sys/policies/acl" {
  capabilities = ["list"]
}

# Database engine connections and roles (any mount hstack.hcl declares).
path "+/config/*" {
  capabilities = ["create", "read", "update", "list"]
}
path "+/roles/*" {
  capabilities = ["create", "read", "update", "delete", "list"]
}
path "+/rotate-root/*" {
  capabilities = ["update"]
}

# The ACL tokens bootstrap stores, and apps' secrets under kv/hstack/.
path "kv/data/hstack-acl/*" {
  capabilities = ["create", "read", "update"]
}
path "kv/metadata/hstack-acl/*" {
  capabilities = ["read", "list"]
}
path "kv/data/hstack/*" {
  capabilities = ["create", "read", "update", "delete"]
}
path "kv/metadata/hstack/*" {
  capabilities = ["read", "list", "delete"]
}

# `hstack db leases` and `db revoke`: list and end the engine's leases
# (Vault wants sudo to list them).
path "sys/leases/lookup/*" {
  capabilities = ["list", "sudo"]
}
path "sys/leases/revoke-prefix/*" {
  capabilities = ["update", "sudo"]
}

# Re-runs of `hstack bootstrap acl` check that the tokens they issued still
# exist. (Issuing them, on the first run, takes root: only root may create
# orphan tokens with policies it does not hold.)
path "auth/token/lookup-accessor" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
