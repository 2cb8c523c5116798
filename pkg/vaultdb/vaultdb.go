// Package vaultdb configures Vault's database secrets engine for the
// stack file's PostgreSQL databases and hands out, lists and revokes the
// short-lived credentials it issues.
//
// Setup is idempotent: it reads the mount, the connection and every role,
// writes only what differs, and reports each object's change. The root
// credential Vault connects with is needed only to create the connection
// or to point it at another server; Vault then rotates it, so afterwards
// nobody but Vault knows it.
package vaultdb

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/vaultplan"
)

// Connection pool limits of Vault's connection to each database: Vault
// opens connections only to create, renew and revoke users, so a few are
// plenty, and recycling them bounds how long a server failover is noticed.
const (
	MaxOpenConnections    = 4
	MaxIdleConnections    = 2
	MaxConnectionLifetime = "30m"
)

// DefaultRootUsername is the PostgreSQL user Vault administers users as
// when none is given: the dev stack creates it; in production it is the
// master user of the database server.
const DefaultRootUsername = "vault_admin"

// Endpoint is where Vault reaches a database server.
type Endpoint struct {
	Host string
	Port int
}

func (e Endpoint) String() string { return net.JoinHostPort(e.Host, strconv.Itoa(e.Port)) }

// Spec is the Vault configuration of one database block.
type Spec struct {
	// Mount is the database secrets engine's path.
	Mount string
	// Connection is the name of Vault's connection: the database block's
	// name.
	Connection string
	Endpoint   Endpoint
	// Database is the PostgreSQL database Vault connects to.
	Database string
	// SSLMode is libpq's sslmode: disable on loopback, require otherwise.
	SSLMode string
	Roles   []RoleSpec
}

// RoleSpec is one Vault database role.
type RoleSpec struct {
	Name       string
	Statements Statements
	DefaultTTL time.Duration
	MaxTTL     time.Duration
}

// SpecFor builds the Spec of a database block reached at ep.
func SpecFor(db *stackfile.Database, ep Endpoint) (Spec, error) {
	if ep.Host == "" || ep.Port <= 0 {
		return Spec{}, fmt.Errorf("database %q: no address to connect to", db.Name)
	}
	s := Spec{
		Mount: strings.Trim(db.VaultMount, "/"), Connection: db.Name, Endpoint: ep,
		Database: db.DatabaseName, SSLMode: "require",
	}
	if ip := net.ParseIP(ep.Host); (ip != nil && ip.IsLoopback()) || ep.Host == "localhost" {
		// Traffic that never leaves the machine has nothing to encrypt
		// against; the dev stack's PostgreSQL has no certificate.
		s.SSLMode = "disable"
	}
	for _, r := range db.Roles {
		st, err := StatementsFor(db.DatabaseName, r)
		if err != nil {
			return Spec{}, fmt.Errorf("database %q: %w", db.Name, err)
		}
		s.Roles = append(s.Roles, RoleSpec{Name: r.Name, Statements: st, DefaultTTL: r.DefaultTTL, MaxTTL: r.MaxTTL})
	}
	return s, nil
}

// ConnectionURL is the URL Vault connects with; Vault fills in the
// {{username}} and {{password}} of the root credential itself.
func (s Spec) ConnectionURL() string {
	// url.URL would escape the braces.
	return "postgresql://{{username}}:{{password}}@" + s.Endpoint.String() + "/" +
		url.PathEscape(s.Database) + "?sslmode=" + url.QueryEscape(s.SSLMode)
}

func (s Spec) configPath() string { return s.Mount + "/config/" + s.Connection }

func (s Spec) roleNames() []string {
	var names []string
	for _, r := range s.Roles {
		names = append(names, r.Name)
	}
	sort.Strings(names)
	return names
}

// connectionFields are the non-secret settings, as Vault reports them
// under connection_details.
func (s Spec) connectionFields() map[string]any {
	// #nosec G101 -- "password_authentication" names the hashing scheme, not a password.
	return map[string]any{
		"connection_url":          s.ConnectionURL(),
		"password_authentication": "scram-sha-256",
		"max_open_connections":    MaxOpenConnections,
		"max_idle_connections":    MaxIdleConnections,
		"max_connection_lifetime": MaxConnectionLifetime,
	}
}

func (s Spec) topFields() map[string]any {
	return map[string]any{
		"plugin_name":   "postgresql-database-plugin",
		"allowed_roles": vaultplan.Set(s.roleNames()),
	}
}

func (r RoleSpec) fields(connection string) map[string]any {
	return map[string]any{
		"db_name":               connection,
		"creation_statements":   r.Statements.Creation,
		"revocation_statements": r.Statements.Revocation,
		"renew_statements":      r.Statements.Renew,
		"default_ttl":           vaultplan.Seconds(r.DefaultTTL),
		"max_ttl":               vaultplan.Seconds(r.MaxTTL),
	}
}

// Root is the credential Vault administers users with until it rotates
// it.
type Root struct {
	Username string
	Password clients.Secret
}

// Options tune Setup.
type Options struct {
	// Root is used only when the connection must be created or pointed at
	// another server; otherwise it is ignored (Vault keeps the rotated
	// password it holds).
	Root *Root
	// DryRun reads and compares but writes nothing.
	DryRun bool
}

// RootNeededError says the connection must be (re)written with a root
// credential and none was given. Nothing was changed.
type RootNeededError struct {
	Connection string
	Reason     string
}

func (e *RootNeededError) Error() string {
	return fmt.Sprintf("connection %s %s, so Vault needs the database's root credential to connect (it rotates it right away)", e.Connection, e.Reason)
}

// Setup makes Vault's configuration for spec what it should be and
// returns every object's change. All reads and checks come first, so a
// missing root credential or a mount of the wrong type fails before
// anything is written.
func Setup(ctx context.Context, vc *vaultapi.Client, spec Spec, opts Options) ([]vaultplan.Change, error) {
	if err := checkSpec(spec); err != nil {
		return nil, err
	}
	l := vc.Logical()

	// Plan.
	mounts, err := vc.Sys().ListMountsWithContext(ctx)
	if err != nil {
		return nil, wrap(err, "list", "sys/mounts")
	}
	mountObj := spec.Mount + "/ (database secrets engine)"
	m, mounted := mounts[spec.Mount+"/"]
	if mounted && m.Type != "database" {
		return nil, fmt.Errorf("%s/ is a %s secrets engine, not database: hstack will not replace it; set vault_mount to another path", spec.Mount, m.Type)
	}
	var cur, roles = map[string]any(nil), map[string]map[string]any{}
	if mounted {
		s, err := l.ReadWithContext(ctx, spec.configPath())
		if err != nil {
			return nil, wrap(err, "read", spec.configPath())
		}
		if s != nil {
			cur = s.Data
		}
		for _, r := range spec.Roles {
			p := spec.Mount + "/roles/" + r.Name
			s, err := l.ReadWithContext(ctx, p)
			if err != nil {
				return nil, wrap(err, "read", p)
			}
			if s != nil {
				roles[r.Name] = s.Data
			}
		}
	}

	var changes []vaultplan.Change
	if mounted {
		changes = append(changes, vaultplan.Change{Action: vaultplan.Unchanged, Object: mountObj})
	} else {
		changes = append(changes, vaultplan.Change{Action: vaultplan.Create, Object: mountObj})
	}

	conn := vaultplan.Change{Action: vaultplan.Create, Object: spec.configPath()}
	reconnect := ""
	if cur == nil {
		reconnect = "does not exist yet"
	} else {
		details, _ := cur["connection_details"].(map[string]any)
		conn.Fields = append(vaultplan.Diff(spec.topFields(), cur), vaultplan.Diff(spec.connectionFields(), details)...)
		sort.Slice(conn.Fields, func(i, j int) bool { return conn.Fields[i].Name < conn.Fields[j].Name })
		for _, f := range conn.Fields {
			if f.Name == "connection_url" || f.Name == "plugin_name" {
				reconnect = "points at another server (" + f.Name + " changed)"
			}
		}
		if opts.Root != nil && opts.Root.Username != "" && details["username"] != opts.Root.Username {
			reconnect = fmt.Sprintf("uses root user %v, not %s", details["username"], opts.Root.Username)
			conn.Fields = append(conn.Fields, vaultplan.Field{Name: "username", Old: fmt.Sprint(details["username"]), New: opts.Root.Username})
		}
		switch {
		case reconnect != "":
			conn.Action = vaultplan.Update
		case len(conn.Fields) > 0:
			conn.Action = vaultplan.Update
		default:
			conn.Action = vaultplan.Unchanged
		}
	}
	if reconnect != "" && (opts.Root == nil || opts.Root.Password == "") {
		if opts.DryRun {
			conn.Note = "needs the root credential"
		} else {
			return nil, &RootNeededError{Connection: spec.configPath(), Reason: reconnect}
		}
	}
	changes = append(changes, conn)

	var roleChanges []vaultplan.Change
	for _, r := range spec.Roles {
		p := spec.Mount + "/roles/" + r.Name
		ch := vaultplan.Change{Action: vaultplan.Create, Object: p}
		if data, ok := roles[r.Name]; ok {
			ch.Fields = vaultplan.Diff(r.fields(spec.Connection), data)
			ch.Action = vaultplan.Update
			if len(ch.Fields) == 0 {
				ch.Action = vaultplan.Unchanged
			}
		}
		roleChanges = append(roleChanges, ch)
	}

	rotate := vaultplan.Change{Action: vaultplan.Rotate, Object: spec.Mount + "/rotate-root/" + spec.Connection,
		Note: "the root password is now known only to Vault"}
	if opts.DryRun {
		changes = append(changes, roleChanges...)
		if reconnect != "" {
			changes = append(changes, rotate)
		}
		return changes, nil
	}

	// Apply.
	if !mounted {
		if err := vc.Sys().MountWithContext(ctx, spec.Mount, &vaultapi.MountInput{
			Type: "database", Description: "PostgreSQL credentials for the stack's apps (hstack)",
		}); err != nil {
			return nil, wrap(err, "enable database secrets engine at", spec.Mount)
		}
	}
	if conn.Action != vaultplan.Unchanged {
		body := vaultplan.Plain(spec.topFields())
		for k, v := range spec.connectionFields() {
			body[k] = v
		}
		body["verify_connection"] = true
		if reconnect != "" {
			body["username"] = opts.Root.Username
			body["password"] = opts.Root.Password.Reveal()
		}
		// Without a password Vault merges these into the stored
		// connection details and keeps the rotated password.
		if _, err := l.WriteWithContext(ctx, spec.configPath(), body); err != nil {
			return changes[:1], wrap(err, "write", spec.configPath())
		}
	}
	if reconnect != "" {
		if _, err := l.WriteWithContext(ctx, rotate.Object, nil); err != nil {
			return changes, fmt.Errorf("%w; the connection works with the password given, so run `hstack db setup` again to rotate it", wrap(err, "rotate the root credential at", rotate.Object))
		}
	}
	for i, r := range spec.Roles {
		if roleChanges[i].Action == vaultplan.Unchanged {
			continue
		}
		if _, err := l.WriteWithContext(ctx, roleChanges[i].Object, vaultplan.Plain(r.fields(spec.Connection))); err != nil {
			return append(changes, roleChanges[:i]...), wrap(err, "write", roleChanges[i].Object)
		}
	}
	changes = append(changes, roleChanges...)
	if reconnect != "" {
		changes = append(changes, rotate)
	}
	return changes, nil
}

func checkSpec(s Spec) error {
	if s.Mount == "" || s.Connection == "" {
		return errors.New("database spec needs a mount and a connection name")
	}
	seen := map[string]bool{}
	for _, r := range s.Roles {
		if seen[r.Name] {
			return fmt.Errorf("role %q is declared twice for %s", r.Name, s.Mount)
		}
		seen[r.Name] = true
		if len(r.Statements.Creation) == 0 {
			return fmt.Errorf("role %q has no creation statements", r.Name)
		}
	}
	return nil
}

// Error is a failed Vault request, said briefly: what hstack was doing,
// on which path, and Vault's own words. Status is 0 when Vault was not
// reached at all.
type Error struct {
	Op, Path string
	Status   int
	Messages []string
	Err      error
}

func (e *Error) Error() string {
	switch {
	case e.Status == 403:
		return fmt.Sprintf("%s %s: Vault denied it (403 permission denied): the token's policies do not allow this path", e.Op, e.Path)
	case e.Status != 0:
		return fmt.Sprintf("%s %s: Vault answered %d: %s", e.Op, e.Path, e.Status, strings.Join(e.Messages, "; "))
	}
	return fmt.Sprintf("%s %s: %v", e.Op, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Denied reports whether Vault refused the token (403) or found it
// invalid (401 is never returned by Vault, but proxies do).
func (e *Error) Denied() bool { return e.Status == 403 || e.Status == 401 }

func wrap(err error, op, path string) error {
	if err == nil {
		return nil
	}
	e := &Error{Op: op, Path: path, Err: err}
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		e.Status = re.StatusCode
		e.Messages = re.Errors
	}
	return e
}

// status is the HTTP status of a Vault error, 0 when Vault did not answer.
func status(err error) int {
	var re *vaultapi.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}
