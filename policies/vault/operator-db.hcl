# Vault policy "operator-db": short-lived database credentials for humans
# (`hstack db creds`), e.g. to inspect data during an incident.
#
# Held by: operators, through their own login. Each read of a creds path
# makes Vault create a PostgreSQL user that expires with its lease
# (default_ttl of the role in hstack.hcl); the operator can renew or
# revoke only leases, not reconfigure the engine.
path "+/creds/*" {
  capabilities = ["read"]
}

# Renew or end one's own leases early.
path "sys/leases/renew" {
  capabilities = ["update"]
}
path "sys/leases/revoke" {
  capabilities = ["update"]
}

path "auth/token/lookup-self" {
  capabilities = ["read"]
}
