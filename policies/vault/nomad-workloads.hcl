# Vault policy for Nomad workloads that log in with their workload identity
# through the JWT auth method (role "nomad-workloads").
#
# A task may read only the dynamic database credentials of the role named
# after its own job, and only its own job's secrets in KV: job "pingapp"
# reads database/creds/pingapp and kv/data/hstack/pingapp(/...), nothing
# else. When hstack writes the policy, the accessor placeholder becomes the
# JWT mount's accessor and the database path block is repeated for each
# database secrets engine mount the stack declares ("database" by default);
# Vault fills in the job ID from the token's entity alias metadata
# (claim_mappings on the role).

path "DATABASE_MOUNT/creds/{{identity.entity.aliases.AUTH_METHOD_ACCESSOR.metadata.nomad_job_id}}" {
  capabilities = ["read"]
}

# The job's own static secrets (KV version 2 mounted at kv/).
path "kv/data/hstack/{{identity.entity.aliases.AUTH_METHOD_ACCESSOR.metadata.nomad_job_id}}" {
  capabilities = ["read"]
}
path "kv/data/hstack/{{identity.entity.aliases.AUTH_METHOD_ACCESSOR.metadata.nomad_job_id}}/*" {
  capabilities = ["read"]
}
