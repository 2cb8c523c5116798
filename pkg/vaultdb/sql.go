package vaultdb

import (
	"fmt"
	"strings"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Groups are the NOLOGIN roles that hold a database's privileges. Every
// Vault-issued user joins one of them instead of being granted privileges
// directly, so revoking a user drops nothing but a membership, and tables
// that owners create later are readable by readonly and readwrite users
// through default privileges on the owner group.
type Groups struct {
	Owner, ReadWrite, ReadOnly string
}

// GroupsFor names the groups after the PostgreSQL database, which is what
// the privileges are on; PostgreSQL roles are cluster-wide, so two
// databases on one server get separate groups.
func GroupsFor(database string) Groups {
	return Groups{Owner: database + "_owner", ReadWrite: database + "_readwrite", ReadOnly: database + "_readonly"}
}

// quoteIdent quotes a PostgreSQL identifier.
func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// quoteLiteral quotes a PostgreSQL string literal.
func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// ensureGroups creates the groups when missing and gives each its
// privileges once, in the block that created it: GRANT on existing tables
// is not repeated per credential, because concurrent GRANTs on one object
// fail with "tuple concurrently updated". A group created meanwhile by
// another transaction (another Vault node, another role's first
// credential) raises duplicate_object, or unique_violation when the two
// raced on the catalog index; both mean "exists", and only that
// subtransaction is rolled back.
//
// Vault runs a statement containing END as one statement instead of
// splitting it at semicolons; the block must stay free of Vault's {{...}}
// placeholders. It is only for the built-in privileges: tables are meant
// to be created by owner credentials (or granted to the groups by whoever
// creates them), in schema public.
func ensureGroups(database string) string {
	g := GroupsFor(database)
	db := quoteIdent(database)
	var b strings.Builder
	b.WriteString("DO $hstack$\nBEGIN\n")
	block := func(role string, stmts ...string) {
		fmt.Fprintf(&b, "  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = %s) THEN\n    BEGIN\n", quoteLiteral(role))
		fmt.Fprintf(&b, "      CREATE ROLE %s NOLOGIN;\n", quoteIdent(role))
		for _, s := range stmts {
			fmt.Fprintf(&b, "      %s;\n", s)
		}
		b.WriteString("    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;\n    END;\n  END IF;\n")
	}
	owner, rw, ro := quoteIdent(g.Owner), quoteIdent(g.ReadWrite), quoteIdent(g.ReadOnly)
	block(g.Owner,
		// ALTER DEFAULT PRIVILEGES FOR ROLE owner needs the admin to be a
		// member of it (a superuser need not, but it does no harm).
		"GRANT "+owner+" TO CURRENT_USER",
		"GRANT CONNECT, TEMPORARY ON DATABASE "+db+" TO "+owner,
		"GRANT USAGE, CREATE ON SCHEMA public TO "+owner,
	)
	block(g.ReadWrite,
		"GRANT CONNECT ON DATABASE "+db+" TO "+rw,
		"GRANT USAGE ON SCHEMA public TO "+rw,
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "+rw,
		"GRANT USAGE, SELECT, UPDATE ON ALL SEQUENCES IN SCHEMA public TO "+rw,
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO "+rw,
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" IN SCHEMA public GRANT USAGE, SELECT, UPDATE ON SEQUENCES TO "+rw,
	)
	block(g.ReadOnly,
		"GRANT CONNECT ON DATABASE "+db+" TO "+ro,
		"GRANT USAGE ON SCHEMA public TO "+ro,
		"GRANT SELECT ON ALL TABLES IN SCHEMA public TO "+ro,
		"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO "+ro,
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" IN SCHEMA public GRANT SELECT ON TABLES TO "+ro,
		"ALTER DEFAULT PRIVILEGES FOR ROLE "+owner+" IN SCHEMA public GRANT SELECT ON SEQUENCES TO "+ro,
	)
	b.WriteString("END\n$hstack$;")
	return b.String()
}

const createUser = `CREATE ROLE "{{name}}" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}' IN ROLE %s;`

// Statements are a Vault database role's SQL.
type Statements struct {
	Creation, Revocation, Renew []string
}

// StatementsFor builds the SQL of a role from its privilege level.
//
// Owners run as the owner group (ALTER ROLE ... SET role), so what they
// create belongs to the group and outlives the user; revocation still
// reassigns anything the user came to own (e.g. after RESET ROLE) before
// dropping what is left of it and the user itself.
func StatementsFor(database string, r *stackfile.Role) (Statements, error) {
	renew := []string{`ALTER ROLE "{{name}}" VALID UNTIL '{{expiration}}';`}
	if r.Privilege == stackfile.PrivilegeCustom {
		return Statements{Creation: r.CreationSQL, Revocation: r.RevocationSQL, Renew: renew}, nil
	}
	if strings.Contains(database, "{{") || strings.Contains(database, "}}") {
		return Statements{}, fmt.Errorf("database name %q would be read as a Vault template", database)
	}
	g := GroupsFor(database)
	var group string
	switch r.Privilege {
	case stackfile.PrivilegeReadOnly:
		group = g.ReadOnly
	case stackfile.PrivilegeReadWrite:
		group = g.ReadWrite
	case stackfile.PrivilegeOwner:
		group = g.Owner
	default:
		return Statements{}, fmt.Errorf("role %q: unknown privilege %q", r.Name, r.Privilege)
	}
	creation := []string{ensureGroups(database), fmt.Sprintf(createUser, quoteIdent(group))}
	if r.Privilege == stackfile.PrivilegeOwner {
		creation = append(creation, fmt.Sprintf(`ALTER ROLE "{{name}}" SET role = %s;`, quoteLiteral(g.Owner)))
	}
	// A user already gone (dropped by hand, a revocation retried after a
	// partial failure) must not make Vault retry the revocation forever.
	revocation := []string{fmt.Sprintf(`DO $hstack$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{{name}}') THEN
    REASSIGN OWNED BY "{{name}}" TO %s;
    DROP OWNED BY "{{name}}";
    DROP ROLE "{{name}}";
  END IF;
END
$hstack$;`, quoteIdent(g.Owner))}
	return Statements{Creation: creation, Revocation: revocation, Renew: renew}, nil
}
