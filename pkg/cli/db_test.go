package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/jackc/pgx/v5"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/workloadid"
)

func TestDBUsageErrors(t *testing.T) {
	isolateStackEnv(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"db", "creds", "-f", example}, "missing argument ROLE"},
		{[]string{"db", "creds", "-f", example, "nosuch"}, `no role "nosuch" in ../../hstack.hcl (declared: pingapp, reporting)`},
		{[]string{"db", "revoke", "-f", example}, "missing argument LEASE_ID"},
		{[]string{"db", "revoke", "-f", example, "--role", "pingapp", "x"}, "either a LEASE_ID or --role"},
		{[]string{"db", "revoke", "-f", example, "secret/foo"}, `lease "secret/foo" is not a database credential`},
		{[]string{"db", "setup", "-f", example, "--database", "nope"}, `invalid --database "nope": ../../hstack.hcl declares database main`},
		{[]string{"db", "creds", "-f", example, "--ttl", "10ms", "pingapp"}, "invalid --ttl 10ms"},
	} {
		r := runApp(t, nil, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", tc.args, r.code, r.stderr, tc.want)
		}
	}
	r := runApp(t, nil, "--vault-addr", "http://127.0.0.1:1", "--vault-token", "x", "db", "leases", "-f", example)
	if r.code != ExitUnreachable {
		t.Errorf("unreachable Vault: exit %d, want 3\n%s", r.code, r.stderr)
	}
}

// TestDBAgainstDevStack drives every db command through the CLI against a
// real dev stack, down to a real Nomad workload identity being refused
// another role's credentials.
func TestDBAgainstDevStack(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	isolateStackEnv(t)
	t.Setenv("NOMAD_ADDR", s.NomadAddr())
	t.Setenv("VAULT_ADDR", s.VaultAddr())
	t.Setenv("VAULT_TOKEN", s.VaultToken())
	t.Setenv(envRootPassword, "")
	stack := []string{"-f", example, "--env", "dev", "--var", fmt.Sprintf("database_port=%d", s.Ports.Postgres)}
	// urfave/cli stops at the first positional argument: flags go first.
	db := func(sub string, args ...string) result {
		t.Helper()
		return runApp(t, nil, append(append([]string{"db", sub}, stack...), args...)...)
	}
	ctx := context.Background()

	// dev up configured pingapp; the stack file adds reporting. No root
	// password: the connection exists.
	r := db("setup")
	if r.code != ExitOK {
		t.Fatalf("db setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"= auth/jwt-nomad (jwt auth method)",
		"~ database/config/main: allowed_roles [pingapp] -> [pingapp, reporting]",
		"= database/roles/pingapp",
		"+ database/roles/reporting",
		"2 objects changed.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("db setup output lacks %q:\n%s", want, r.stdout)
		}
	}
	t.Logf("hstack db setup:\n%s", r.stdout)
	if r = db("setup"); r.code != ExitOK || !strings.Contains(r.stdout, "No changes: Vault already matches") {
		t.Errorf("second db setup: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Another server address needs the root credential; nothing changes.
	r = runApp(t, nil, "db", "setup", "-f", example, "--env", "dev", "--var", fmt.Sprintf("database_port=%d", s.Ports.Postgres+1))
	if r.code != ExitUsage || !strings.Contains(r.stderr, "--root-password-file") || !strings.Contains(r.stderr, "connection_url changed") {
		t.Errorf("setup with a moved database: exit %d\n%s", r.code, r.stderr)
	}

	if r = db("check"); r.code != ExitOK || !strings.Contains(r.stdout, "skip workload login") || !strings.Contains(r.stdout, "ok   credentials for reporting") {
		t.Errorf("db check: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	t.Logf("hstack db check:\n%s", r.stdout)

	// Piped output: everything but the password.
	r = db("creds", "reporting")
	if r.code != ExitOK || !strings.Contains(r.stdout, "username") || !strings.Contains(r.stdout, "lease_id  database/creds/reporting/") {
		t.Fatalf("db creds: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, "password") || !strings.Contains(r.stderr, "password not printed") || !strings.Contains(r.stderr, "--json") {
		t.Errorf("db creds on a pipe:\nstdout %s\nstderr %s", r.stdout, r.stderr)
	}
	// --json: the password, which logs in, and a TTL of our choosing.
	r = db("creds", "--json", "--ttl", "1m", "reporting")
	var cred struct{ Username, Password, LeaseID string }
	var raw map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &raw); r.code != ExitOK || err != nil {
		t.Fatalf("db creds --json: exit %d, %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	cred.Username, _ = raw["username"].(string)
	cred.Password, _ = raw["password"].(string)
	cred.LeaseID, _ = raw["lease_id"].(string)
	if raw["ttl_seconds"] != 60.0 || cred.Password == "" {
		t.Errorf("creds --json: ttl %v, password given %v", raw["ttl_seconds"], cred.Password != "")
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(cred.Username, cred.Password), Host: fmt.Sprintf("127.0.0.1:%d", s.Ports.Postgres), Path: "/postgres", RawQuery: "sslmode=disable"}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("login with db creds: %v", err)
	}
	_ = conn.Close(ctx) // cleanup: the assertions are done

	// A terminal: the password is printed, and it logs in.
	termOut := credsOnTerminal(t, append(append([]string{"db", "creds"}, stack...), "reporting")...)
	fields := map[string]string{}
	for _, line := range strings.Split(termOut, "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			fields[f[0]] = f[1]
		}
	}
	if fields["username"] == "" || fields["password"] == "" {
		t.Fatalf("db creds on a terminal printed no username or password (%d bytes of output)", len(termOut))
	}
	tu := url.URL{Scheme: "postgres", User: url.UserPassword(fields["username"], fields["password"]), Host: fmt.Sprintf("127.0.0.1:%d", s.Ports.Postgres), Path: "/postgres", RawQuery: "sslmode=disable"}
	if conn, err = pgx.Connect(ctx, tu.String()); err != nil {
		t.Fatalf("login with the credentials printed on a terminal: %v", err)
	}
	_ = conn.Close(ctx) // cleanup: the assertions are done

	r = db("leases", "reporting")
	if r.code != ExitOK || strings.Count(r.stdout, "database/creds/reporting/") != 3 {
		t.Errorf("db leases: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, out := range []string{r.stdout, r.stderr} {
		if strings.Contains(out, cred.Password) {
			t.Error("the password appears in db leases output")
		}
	}
	if r = db("revoke", cred.LeaseID); r.code != ExitOK || !strings.Contains(r.stdout, "Revoked 1 lease") {
		t.Errorf("db revoke: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if c, err := pgx.Connect(ctx, u.String()); err == nil {
		_ = c.Close(ctx) // cleanup: the assertions are done
		t.Error("revoked credentials still log in")
	}
	if r = db("revoke", cred.LeaseID); r.code != ExitFailure || !strings.Contains(r.stderr, "no lease") {
		t.Errorf("revoking twice: exit %d\n%s", r.code, r.stderr)
	}
	if r = db("revoke", "--role", "reporting"); r.code != ExitOK || !strings.Contains(r.stdout, "Revoked 2 leases of role reporting") {
		t.Errorf("db revoke --role: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// check names a missing role, and setup restores it.
	vc, err := s.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Logical().Delete("database/roles/reporting"); err != nil {
		t.Fatal(err)
	}
	if r = db("check"); r.code != ExitFailure || !strings.Contains(r.stderr, "role reporting: no role database/roles/reporting: run `hstack db setup`") {
		t.Errorf("db check with a role missing: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = db("setup"); r.code != ExitOK || !strings.Contains(r.stdout, "+ database/roles/reporting") {
		t.Errorf("setup restoring a role: exit %d\n%s", r.code, r.stdout)
	}

	// A real workload identity: a job named pingapp may read pingapp's
	// credentials and is refused reporting's.
	jwt := workloadIdentity(t, s.NomadAddr(), s.AllocDir)
	jwtFile := filepath.Join(t.TempDir(), "jwt")
	if err := os.WriteFile(jwtFile, []byte(jwt), 0o600); err != nil {
		t.Fatal(err)
	}
	r = db("check", "--jwt-file", jwtFile)
	if r.code != ExitOK || !strings.Contains(r.stdout, "ok   job reads its own credentials: database/creds/pingapp") ||
		!strings.Contains(r.stdout, "ok   job denied other credentials: database/creds/reporting: 403") {
		t.Errorf("db check --jwt-file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	wc, err := workloadid.Login(ctx, vc, workloadid.Config{}, jwt)
	if err != nil {
		t.Fatal(err)
	}
	r = runApp(t, nil, append(append([]string{"--vault-token", wc.Token(), "db", "creds"}, stack...), "reporting")...)
	if r.code != ExitUnreachable || !strings.Contains(r.stderr, "read database/creds/reporting: Vault denied it (403 permission denied)") {
		t.Errorf("workload token reading another role: exit %d\n%s", r.code, r.stderr)
	}
}

// workloadIdentity runs a raw_exec job named pingapp whose task gets a
// Vault workload identity as a file, and returns that JWT.
func workloadIdentity(t *testing.T, addr string, allocDir func(string) string) string {
	t.Helper()
	cfg := nomadapi.DefaultConfig()
	cfg.Address = addr
	nc, err := nomadapi.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	job := nomadapi.NewServiceJob("pingapp", "pingapp", "global", 50)
	job.Datacenters = []string{"dc1"}
	task := nomadapi.NewTask("probe", "raw_exec").SetConfig("command", "/bin/sleep").SetConfig("args", []string{"600"})
	task.Identities = []*nomadapi.WorkloadIdentity{{Name: "vault_default", Audience: []string{"vault.io"}, File: true, TTL: time.Hour}}
	task.Resources = &nomadapi.Resources{CPU: ptrTo(50), MemoryMB: ptrTo(32)}
	tg := nomadapi.NewTaskGroup("probe", 1).AddTask(task)
	job.AddTaskGroup(tg)
	if _, _, err := nc.Jobs().Register(job, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _, _, _ = nc.Jobs().Deregister("pingapp", true, nil) }) // cleanup; the stack goes away after
	var jwt string
	devstacktest.Eventually(t, 60*time.Second, "the task's identity file", func() error {
		allocs, _, err := nc.Jobs().Allocations("pingapp", false, nil)
		if err != nil {
			return err
		}
		for _, a := range allocs {
			b, err := os.ReadFile(filepath.Join(allocDir(a.ID), "probe", "secrets", "nomad_vault_default.jwt"))
			if err == nil && len(b) > 0 {
				jwt = string(b)
				return nil
			}
		}
		return fmt.Errorf("no identity file yet (%d allocations)", len(allocs))
	})
	return jwt
}

func ptrTo[T any](v T) *T { return &v }

// credsOnTerminal runs hstack with stdout on a pseudo-terminal and returns
// what it printed there. The output holds a password: never log it.
func credsOnTerminal(t *testing.T, args ...string) string {
	t.Helper()
	ptmx, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	read := make(chan string)
	go func() {
		b, _ := io.ReadAll(ptmx) // ends with EIO once the terminal side is closed
		read <- string(b)
	}()
	app := newApp()
	var errOut bytes.Buffer
	app.Writer, app.ErrWriter = tty, &errOut
	code := run(context.Background(), app, append([]string{"hstack"}, args...))
	_ = tty.Close() // cleanup: the assertions are done
	out := strings.ReplaceAll(<-read, "\r", "")
	if code != ExitOK {
		t.Fatalf("hstack %s on a terminal: exit %d\n%s", strings.Join(args[:2], " "), code, errOut.String())
	}
	return out
}
