# Vault policy "ci-deployer": what a CI release job needs to deploy, and
# nothing else.
#
# Held by: CI (logged in through its own auth method, e.g. JWT from the CI
# provider). It fetches the Nomad deployer and Consul hstack tokens that
# `hstack bootstrap acl` stored, and reads (never writes) the Vault wiring
# `hstack deploy`'s pre-flight checks.
path "kv/data/hstack-acl/nomad/deployer" {
  capabilities = ["read"]
}
path "kv/data/hstack-acl/consul/hstack" {
  capabilities = ["read"]
}

# Pre-flight: the tasks' credential chain (workloadid.Check) exists and
# matches: the JWT auth method's accessor (which the workload policy names)
# and its JWKS URL, the workload role and policy. None of it is a secret.
path "sys/auth" {
  capabilities = ["read"]
}
path "auth/jwt-nomad/config" {
  capabilities = ["read"]
}
path "sys/policies/acl/nomad-workloads" {
  capabilities = ["read"]
}
path "auth/jwt-nomad/role/*" {
  capabilities = ["read"]
}
path "+/roles/*" {
  capabilities = ["read"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
