# Vault policy for Nomad workloads that log in with their workload identity
# through the JWT auth method (role "nomad-workloads").
#
# A task may read only the dynamic database credentials of the role named
# after its own job: job "pingapp" reads database/creds/pingapp and nothing
# else. When hstack writes the policy, AUTH_METHOD_ACCESSOR becomes the JWT
# mount's accessor and the path block is repeated for each database secrets
# engine mount the stack declares (DATABASE_MOUNT; "database" by default);
# Vault fills in the job ID from the token's entity alias metadata
# (claim_mappings on the role).

path "DATABASE_MOUNT/creds/{{identity.entity.aliases.AUTH_METHOD_ACCESSOR.metadata.nomad_job_id}}" {
  capabilities = ["read"]
}
