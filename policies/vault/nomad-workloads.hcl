# Vault policy for Nomad workloads that log in with their workload identity
# through the JWT auth method (role "nomad-workloads").
#
# A task may read only the dynamic database credentials of the role named
# after its own job: job "pingapp" reads database/creds/pingapp and nothing
# else. AUTH_METHOD_ACCESSOR is replaced with the JWT mount's accessor when
# hstack writes the policy; Vault fills in the job ID from the token's entity
# alias metadata (claim_mappings on the role).

path "database/creds/{{identity.entity.aliases.AUTH_METHOD_ACCESSOR.metadata.nomad_job_id}}" {
  capabilities = ["read"]
}
