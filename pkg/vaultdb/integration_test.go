package vaultdb_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/pgserver"
	"github.com/hstack-dev/hstack/pkg/pgserver/pgservertest"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
	"github.com/hstack-dev/hstack/pkg/vaultplan"
)

// env is a real Vault and a real PostgreSQL with a vault_admin superuser,
// as the dev stack has.
type env struct {
	vc     *vaultapi.Client
	pg     *pgserver.Server
	admin  *pgx.Conn // the postgres superuser, for inspecting
	rootPW string
	db     *stackfile.Database
}

func newEnv(t testing.TB) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("integration test: starts Vault and PostgreSQL")
	}
	e := &env{vc: devstacktest.StartVault(t), pg: pgservertest.Start(t), rootPW: "initial-root-pw-" + fmt.Sprint(time.Now().UnixNano())}
	ctx := context.Background()
	var err error
	e.admin, err = pgx.Connect(ctx, e.pg.SuperuserURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.admin.Close(context.Background()) })
	if _, err := e.admin.Exec(ctx, fmt.Sprintf(`CREATE ROLE vault_admin LOGIN SUPERUSER PASSWORD '%s'`, e.rootPW)); err != nil {
		t.Fatal(err)
	}
	e.db = &stackfile.Database{
		Name: "main", Address: "127.0.0.1", Port: e.pg.Port, DatabaseName: "postgres", VaultMount: "database",
		Roles: []*stackfile.Role{
			{Name: "app", Privilege: stackfile.PrivilegeReadWrite, DefaultTTL: time.Hour, MaxTTL: 24 * time.Hour},
			{Name: "reporting", Privilege: stackfile.PrivilegeReadOnly, DefaultTTL: 30 * time.Minute, MaxTTL: 8 * time.Hour},
			{Name: "migrate", Privilege: stackfile.PrivilegeOwner, DefaultTTL: 10 * time.Minute, MaxTTL: time.Hour},
		},
	}
	return e
}

func (e *env) spec(t testing.TB) vaultdb.Spec {
	t.Helper()
	s, err := vaultdb.SpecFor(e.db, vaultdb.Endpoint{Host: "127.0.0.1", Port: e.pg.Port})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e *env) root() *vaultdb.Root {
	return &vaultdb.Root{Username: "vault_admin", Password: clients.Secret(e.rootPW)}
}

func (e *env) setup(t testing.TB) {
	t.Helper()
	if _, err := vaultdb.Setup(context.Background(), e.vc, e.spec(t), vaultdb.Options{Root: e.root()}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) login(ctx context.Context, user, password string) (*pgx.Conn, error) {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(user, password), Host: e.pg.Addr(), Path: "/postgres", RawQuery: "sslmode=disable"}
	return pgx.Connect(ctx, u.String())
}

func (e *env) creds(t testing.TB, role string, ttl time.Duration) (*vaultdb.Credential, *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	c, err := vaultdb.Creds(ctx, e.vc, "database", role, ttl)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := e.login(ctx, c.Username, c.Password.Reveal())
	if err != nil {
		t.Fatalf("login as %s: %v", c.Username, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return c, conn
}

func (e *env) roleExists(t testing.TB, name string) bool {
	t.Helper()
	var n int
	if err := e.admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func actions(changes []vaultplan.Change) map[string]vaultplan.Action {
	m := map[string]vaultplan.Action{}
	for _, c := range changes {
		m[c.Object] = c.Action
	}
	return m
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

const insufficientPrivilege = "42501"

// TestSetup: an empty Vault gets the mount, the connection, the roles and
// a rotated root; a second run changes nothing and needs no password; a
// changed TTL updates just that role.
func TestSetup(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	spec := e.spec(t)

	if _, err := vaultdb.Setup(ctx, e.vc, spec, vaultdb.Options{}); err == nil {
		t.Fatal("setup without a root credential on an empty Vault succeeded")
	} else {
		var rn *vaultdb.RootNeededError
		if !errors.As(err, &rn) {
			t.Fatalf("want RootNeededError, got %v", err)
		}
		if mounts, _ := e.vc.Sys().ListMounts(); mounts["database/"] != nil {
			t.Error("the refused setup mounted the engine anyway")
		}
	}

	changes, err := vaultdb.Setup(ctx, e.vc, spec, vaultdb.Options{Root: e.root()})
	if err != nil {
		t.Fatal(err)
	}
	got := actions(changes)
	for obj, want := range map[string]vaultplan.Action{
		"database/ (database secrets engine)": vaultplan.Create,
		"database/config/main":                vaultplan.Create,
		"database/roles/app":                  vaultplan.Create,
		"database/roles/reporting":            vaultplan.Create,
		"database/roles/migrate":              vaultplan.Create,
		"database/rotate-root/main":           vaultplan.Rotate,
	} {
		if got[obj] != want {
			t.Errorf("%s: %q, want %q (all: %v)", obj, got[obj], want, changes)
		}
	}
	cfg, err := e.vc.Logical().Read("database/config/main")
	if err != nil {
		t.Fatal(err)
	}
	details := cfg.Data["connection_details"].(map[string]any)
	if details["password_authentication"] != "scram-sha-256" || !strings.Contains(fmt.Sprint(details["connection_url"]), "{{username}}:{{password}}@") {
		t.Errorf("connection details %v", details)
	}
	if fmt.Sprint(cfg.Data["allowed_roles"]) != "[app migrate reporting]" {
		t.Errorf("allowed_roles %v", cfg.Data["allowed_roles"])
	}

	if c, err := e.login(ctx, "vault_admin", e.rootPW); err == nil {
		_ = c.Close(ctx) // cleanup: the assertions are done
		t.Error("the initial root password still logs in after setup")
	}

	// Second run: nothing to do, no password needed.
	changes, err = vaultdb.Setup(ctx, e.vc, spec, vaultdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if c.Action != vaultplan.Unchanged {
			t.Errorf("second run changed %s", c)
		}
	}

	// A TTL change updates that role only, and says what changed.
	e.db.Roles[1].DefaultTTL = 15 * time.Minute
	changes, err = vaultdb.Setup(ctx, e.vc, e.spec(t), vaultdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		switch {
		case c.Object == "database/roles/reporting":
			if c.Action != vaultplan.Update || len(c.Fields) != 1 || c.Fields[0].Name != "default_ttl" || c.Fields[0].Old != "1800" || c.Fields[0].New != "900" {
				t.Errorf("reporting change %s", c)
			}
		case c.Action != vaultplan.Unchanged:
			t.Errorf("TTL change also changed %s", c)
		}
	}

	// A new role updates allowed_roles without the root password: Vault
	// merges the connection details and keeps the rotated one, which the
	// new role's credentials prove.
	e.db.Roles = append(e.db.Roles, &stackfile.Role{Name: "extra", Privilege: stackfile.PrivilegeReadOnly, DefaultTTL: time.Hour, MaxTTL: time.Hour})
	changes, err = vaultdb.Setup(ctx, e.vc, e.spec(t), vaultdb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got = actions(changes)
	if got["database/config/main"] != vaultplan.Update || got["database/roles/extra"] != vaultplan.Create {
		t.Errorf("adding a role: %v", changes)
	}
	e.creds(t, "extra", 0)

	// Pointing the connection elsewhere needs the root credential again.
	spec = e.spec(t)
	spec.Endpoint.Port++
	if _, err := vaultdb.Setup(ctx, e.vc, spec, vaultdb.Options{}); err == nil {
		t.Error("a changed address was accepted without the root credential")
	} else if !strings.Contains(err.Error(), "connection_url changed") {
		t.Errorf("changed address: %v", err)
	}
}

// TestPrivileges: each privilege level can do exactly what it says.
func TestPrivileges(t *testing.T) {
	e := newEnv(t)
	e.setup(t)
	ctx := context.Background()

	_, owner := e.creds(t, "migrate", 0)
	if _, err := owner.Exec(ctx, `CREATE TABLE items (id serial PRIMARY KEY, name text)`); err != nil {
		t.Fatalf("owner CREATE TABLE: %v", err)
	}
	if _, err := owner.Exec(ctx, `INSERT INTO items (name) VALUES ('a')`); err != nil {
		t.Fatalf("owner INSERT: %v", err)
	}

	_, rw := e.creds(t, "app", 0)
	for _, q := range []string{
		`SELECT count(*) FROM items`,
		`INSERT INTO items (name) VALUES ('b')`,
		`UPDATE items SET name = 'c' WHERE name = 'b'`,
		`DELETE FROM items WHERE name = 'c'`,
	} {
		if _, err := rw.Exec(ctx, q); err != nil {
			t.Errorf("readwrite %s: %v", q, err)
		}
	}
	if _, err := rw.Exec(ctx, `CREATE TABLE rw_table (id int)`); sqlState(err) != insufficientPrivilege {
		t.Errorf("readwrite CREATE TABLE: %v, want permission denied", err)
	}

	_, ro := e.creds(t, "reporting", 0)
	var n int
	if err := ro.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&n); err != nil || n != 1 {
		t.Errorf("readonly SELECT = %d, %v", n, err)
	}
	for _, q := range []string{`INSERT INTO items (name) VALUES ('x')`, `UPDATE items SET name = 'x'`, `DELETE FROM items`, `CREATE TABLE ro_table (id int)`} {
		if _, err := ro.Exec(ctx, q); sqlState(err) != insufficientPrivilege {
			t.Errorf("readonly %s: %v, want permission denied", q, err)
		}
	}

	// A table a second owner credential creates after the first is
	// revoked: the first one's table is still there and usable.
	e.creds(t, "migrate", 0)
	first, err := vaultdb.Leases(ctx, e.vc, "database", "migrate")
	if err != nil || len(first) != 2 {
		t.Fatalf("migrate leases %v, %v", first, err)
	}
	_ = owner.Close(ctx) // cleanup: the assertions are done
	if err := vaultdb.Revoke(ctx, e.vc, "database", first[0].ID); err != nil {
		t.Fatal(err)
	}
	_, owner2 := e.creds(t, "migrate", 0)
	if _, err := owner2.Exec(ctx, `ALTER TABLE items ADD COLUMN note text`); err != nil {
		t.Errorf("a later owner cannot alter the table an earlier, revoked owner created: %v", err)
	}
	if _, err := owner2.Exec(ctx, `CREATE TABLE later (id int)`); err != nil {
		t.Fatal(err)
	}
	if _, err := rw.Exec(ctx, `INSERT INTO later VALUES (1)`); err != nil {
		t.Errorf("readwrite cannot write a table created after its credential: %v", err)
	}
	if err := ro.QueryRow(ctx, `SELECT count(*) FROM later`).Scan(&n); err != nil || n != 1 {
		t.Errorf("readonly cannot read a table created after its credential: %d, %v", n, err)
	}
	var tableOwner string
	if err := e.admin.QueryRow(ctx, `SELECT tableowner FROM pg_tables WHERE tablename = 'items'`).Scan(&tableOwner); err != nil || tableOwner != "postgres_owner" {
		t.Errorf("items owned by %q, %v; want the owner group", tableOwner, err)
	}
}

// TestRevokeAndExpire: a revoked or expired credential no longer logs in
// and its PostgreSQL user is gone.
func TestRevokeAndExpire(t *testing.T) {
	e := newEnv(t)
	e.setup(t)
	ctx := context.Background()

	c, conn := e.creds(t, "app", 0)
	_ = conn.Close(ctx) // cleanup: the assertions are done
	if err := vaultdb.Revoke(ctx, e.vc, "database", c.LeaseID); err != nil {
		t.Fatal(err)
	}
	if cn, err := e.login(ctx, c.Username, c.Password.Reveal()); err == nil {
		_ = cn.Close(ctx) // cleanup: the assertions are done
		t.Error("a revoked credential still logs in")
	}
	if e.roleExists(t, c.Username) {
		t.Errorf("revoked user %s is still in pg_roles", c.Username)
	}
	if err := vaultdb.Revoke(ctx, e.vc, "database", c.LeaseID); err == nil || !strings.Contains(err.Error(), "no lease") {
		t.Errorf("revoking twice: %v", err)
	}

	// Prefix revocation of a role.
	var users []string
	for range 3 {
		c, conn := e.creds(t, "reporting", 0)
		_ = conn.Close(ctx) // cleanup: the assertions are done
		users = append(users, c.Username)
	}
	n, err := vaultdb.RevokeRole(ctx, e.vc, "database", "reporting")
	if err != nil || n != 3 {
		t.Fatalf("RevokeRole = %d, %v", n, err)
	}
	for _, u := range users {
		if e.roleExists(t, u) {
			t.Errorf("user %s survived the role's revocation", u)
		}
	}

	// A few-second TTL.
	c, conn = e.creds(t, "app", 2*time.Second)
	_ = conn.Close(ctx) // cleanup: the assertions are done
	if c.TTL != 2*time.Second {
		t.Errorf("TTL %v, want 2s", c.TTL)
	}
	devstacktest.Eventually(t, 30*time.Second, "expired credential gone", func() error {
		if e.roleExists(t, c.Username) {
			return fmt.Errorf("user %s still exists", c.Username)
		}
		return nil
	})
	if cn, err := e.login(ctx, c.Username, c.Password.Reveal()); err == nil {
		_ = cn.Close(ctx) // cleanup: the assertions are done
		t.Error("an expired credential still logs in")
	}
	if l, err := vaultdb.Leases(ctx, e.vc, "database", ""); err != nil || len(l) != 0 {
		t.Errorf("leases left: %v, %v", l, err)
	}
}
