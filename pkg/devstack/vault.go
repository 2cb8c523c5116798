package devstack

import (
	"context"
	"fmt"
	"net/url"

	vaultapi "github.com/hashicorp/vault/api"

	vaultpolicies "github.com/hstack-dev/hstack/policies/vault"
)

// DatabaseMount is where the dev stack mounts Vault's database secrets engine.
const DatabaseMount = "database"

// DatabaseConnection is the Vault database connection to the dev Postgres.
const DatabaseConnection = "postgres"

// vaultInit initialises a fresh Vault with a single unseal key and unseals
// it. The dev stack does not use `vault server -dev` because that prints the
// root token into the log; here it goes only to the 0600 state file.
func (s *Stack) vaultInit(ctx context.Context) error {
	c, err := s.rawVaultClient()
	if err != nil {
		return err
	}
	inited, err := c.Sys().InitStatusWithContext(ctx)
	if err != nil {
		return err
	}
	if !inited {
		resp, err := c.Sys().InitWithContext(ctx, &vaultapi.InitRequest{SecretShares: 1, SecretThreshold: 1})
		if err != nil {
			return fmt.Errorf("vault init: %w", err)
		}
		s.state.VaultUnsealKey = resp.Keys[0]
		s.state.VaultToken = resp.RootToken
		if err := s.saveState(); err != nil {
			return err
		}
	}
	st, err := c.Sys().UnsealWithContext(ctx, s.state.VaultUnsealKey)
	if err != nil {
		return fmt.Errorf("vault unseal: %w", err)
	}
	if st.Sealed {
		return fmt.Errorf("vault is still sealed after unseal")
	}
	return nil
}

// vaultWire makes Vault trust Nomad's workload identities and hand out
// dynamic Postgres credentials, the way production is wired: a JWT auth mount
// on Nomad's JWKS, a role for workloads, a policy that lets a job read only
// its own database credentials, and the database secrets engine.
func (s *Stack) vaultWire(ctx context.Context) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	sys := c.Sys()

	auths, err := sys.ListAuthWithContext(ctx)
	if err != nil {
		return err
	}
	if _, ok := auths[JWTAuthPath+"/"]; !ok {
		if err := sys.EnableAuthWithOptionsWithContext(ctx, JWTAuthPath, &vaultapi.EnableAuthOptions{
			Type:        "jwt",
			Description: "Nomad workload identities",
		}); err != nil {
			return fmt.Errorf("enable jwt auth: %w", err)
		}
		if auths, err = sys.ListAuthWithContext(ctx); err != nil {
			return err
		}
	}
	accessor := auths[JWTAuthPath+"/"].Accessor

	l := c.Logical()
	if _, err := l.WriteWithContext(ctx, "auth/"+JWTAuthPath+"/config", map[string]any{
		"jwks_url":           fmt.Sprintf("http://%s/.well-known/jwks.json", loopback(s.Ports.NomadHTTP)),
		"jwt_supported_algs": []string{"RS256", "EdDSA"},
		"default_role":       WorkloadRole,
	}); err != nil {
		return fmt.Errorf("configure jwt auth on Nomad's JWKS: %w", err)
	}
	if err := sys.PutPolicyWithContext(ctx, WorkloadRole, vaultpolicies.NomadWorkloads(accessor)); err != nil {
		return fmt.Errorf("write policy %s: %w", WorkloadRole, err)
	}
	if _, err := l.WriteWithContext(ctx, "auth/"+JWTAuthPath+"/role/"+WorkloadRole, map[string]any{
		"role_type":               "jwt",
		"bound_audiences":         []string{VaultAudience},
		"user_claim":              "/nomad_job_id",
		"user_claim_json_pointer": true,
		"claim_mappings": map[string]string{
			"nomad_namespace": "nomad_namespace",
			"nomad_job_id":    "nomad_job_id",
			"nomad_task":      "nomad_task",
		},
		"token_type":     "service",
		"token_policies": []string{WorkloadRole},
		"token_period":   "30m",
	}); err != nil {
		return fmt.Errorf("write jwt role %s: %w", WorkloadRole, err)
	}

	mounts, err := sys.ListMountsWithContext(ctx)
	if err != nil {
		return err
	}
	if _, ok := mounts[DatabaseMount+"/"]; !ok {
		if err := sys.MountWithContext(ctx, DatabaseMount, &vaultapi.MountInput{Type: "database"}); err != nil {
			return fmt.Errorf("enable database secrets engine: %w", err)
		}
	}
	connURL := url.URL{Scheme: "postgresql", Host: loopback(s.Ports.Postgres), Path: "/postgres", RawQuery: "sslmode=disable"}
	// Vault fills {{username}}/{{password}} itself; url.URL would escape the braces.
	connStr := "postgresql://{{username}}:{{password}}@" + connURL.Host + connURL.Path + "?" + connURL.RawQuery
	if _, err := l.WriteWithContext(ctx, DatabaseMount+"/config/"+DatabaseConnection, map[string]any{
		"plugin_name":             "postgresql-database-plugin",
		"connection_url":          connStr,
		"username":                "postgres",
		"password":                s.state.PGPassword,
		"password_authentication": "scram-sha-256",
		"allowed_roles":           s.roles,
		"max_open_connections":    4,
		"verify_connection":       true,
	}); err != nil {
		return fmt.Errorf("configure database connection: %w", err)
	}
	for _, role := range s.roles {
		if _, err := l.WriteWithContext(ctx, DatabaseMount+"/roles/"+role, map[string]any{
			"db_name": DatabaseConnection,
			"creation_statements": []string{
				`CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';`,
				`GRANT CONNECT ON DATABASE postgres TO "{{name}}";`,
			},
			"default_ttl": "1h",
			"max_ttl":     "24h",
		}); err != nil {
			return fmt.Errorf("write database role %s: %w", role, err)
		}
	}
	return nil
}
