package devstack

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
	"github.com/hstack-dev/hstack/pkg/workloadid"
)

// DatabaseMount is where the dev stack mounts Vault's database secrets engine.
const DatabaseMount = "database"

// DatabaseConnection is the Vault database connection to the dev Postgres,
// named after the database block of hstack.hcl so that `hstack db setup
// --env dev` finds it configured.
const DatabaseConnection = "main"

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
// dynamic Postgres credentials, the way production is wired, through the
// same code as `hstack db setup`: a JWT auth mount on Nomad's JWKS, a role
// for workloads, a policy that lets a job read only its own database
// credentials, and the database secrets engine with one readwrite role
// per entry of Options.DatabaseRoles.
func (s *Stack) vaultWire(ctx context.Context) error {
	c, err := s.VaultClient()
	if err != nil {
		return err
	}
	wid := workloadid.Config{
		JWKSURL:  s.NomadAddr() + "/.well-known/jwks.json",
		AuthPath: JWTAuthPath, Role: WorkloadRole, Audience: VaultAudience,
	}
	if s.state.Secure {
		ca, err := os.ReadFile(s.CAFile()) // #nosec G304 -- the stack's own CA certificate, in its directory
		if err != nil {
			return err
		}
		wid.JWKSCAPEM = string(ca)
	}
	if _, err := workloadid.Setup(ctx, c, wid); err != nil {
		return err
	}
	db := &stackfile.Database{
		Name: DatabaseConnection, Address: "127.0.0.1", Port: s.Ports.Postgres,
		DatabaseName: "postgres", VaultMount: DatabaseMount,
	}
	for _, r := range s.roles {
		db.Roles = append(db.Roles, &stackfile.Role{Name: r, Privilege: stackfile.PrivilegeReadWrite, DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour})
	}
	spec, err := vaultdb.SpecFor(db, vaultdb.Endpoint{Host: "127.0.0.1", Port: s.Ports.Postgres})
	if err != nil {
		return err
	}
	_, err = vaultdb.Setup(ctx, c, spec, vaultdb.Options{
		Root: &vaultdb.Root{Username: VaultAdmin, Password: clients.Secret(s.vaultAdminPassword)},
	})
	return err
}

// VaultAdmin is the PostgreSQL superuser Vault administers users as. It is
// not the stack's postgres superuser: Vault rotates its root credential,
// and the dev stack and its tests keep using postgres.
const VaultAdmin = "vault_admin"

// resetVaultAdmin creates VaultAdmin or gives it a new password. The
// password lives only in memory until Vault, rebuilt on every start,
// rotates it.
func (s *Stack) resetVaultAdmin(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.SuperuserURL())
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	s.vaultAdminPassword = randomSecret()
	// CREATE ROLE takes no bind parameters; the password is hex.
	verb := "CREATE"
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)", VaultAdmin).Scan(&exists); err != nil {
		return err
	}
	if exists {
		verb = "ALTER"
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("%s ROLE %s WITH LOGIN SUPERUSER PASSWORD '%s'", verb, VaultAdmin, s.vaultAdminPassword)); err != nil {
		return fmt.Errorf("%s role %s: %w", strings.ToLower(verb), VaultAdmin, err)
	}
	return nil
}
