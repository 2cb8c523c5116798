package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/snapshot"
)

func runAppInput(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	app := newApp()
	var out, errOut bytes.Buffer
	app.Writer, app.ErrWriter, app.Reader = &out, &errOut, strings.NewReader(stdin)
	code := run(context.Background(), app, append([]string{"hstack"}, args...))
	return result{code, out.String(), errOut.String()}
}

// parkedJob is a job that holds state without running anything: a
// parameterized batch job is only ever run when dispatched.
func parkedJob(id string) *nomadapi.Job {
	job := nomadapi.NewBatchJob(id, id, "global", 50)
	job.Datacenters = []string{"dc1"}
	job.ParameterizedJob = &nomadapi.ParameterizedJobConfig{}
	task := nomadapi.NewTask("t", "raw_exec").SetConfig("command", "/bin/true")
	job.AddTaskGroup(nomadapi.NewTaskGroup("g", 1).AddTask(task))
	return job
}

// pingOnce finds a passing pingapp instance in Consul and asks it /ping.
func pingOnce(consul *consulapi.Client) error {
	entries, _, err := consul.Health().Service("pingapp", "", true, nil)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return fmt.Errorf("no passing pingapp instance")
	}
	e := entries[0]
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://%s:%d/ping", e.Service.Address, e.Service.Port))
	if err != nil {
		return err
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close() // the test has what it needs from the response
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "pong" {
		return fmt.Errorf("/ping = %d %q", resp.StatusCode, body)
	}
	return nil
}

// TestSnapshotRoundTrip saves Nomad, Consul and Vault state of a real dev
// stack, destroys jobs, KV entries and a Vault secret, restores the set and
// finds them back with pingapp answering; a tampered copy of the set is
// refused by verify and by restore and changes nothing.
func TestSnapshotRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t, func(o *devstack.Options) { o.VaultRaft = true })
	isolateStackEnv(t)
	t.Setenv("NOMAD_ADDR", s.NomadAddr())
	t.Setenv("CONSUL_HTTP_ADDR", s.ConsulAddr())
	t.Setenv("VAULT_ADDR", s.VaultAddr())
	t.Setenv("VAULT_TOKEN", s.VaultToken())
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	vault, err := s.VaultClient()
	if err != nil {
		t.Fatal(err)
	}

	// State worth keeping: two jobs, a KV entry, a Vault secret.
	bin := devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	pingapp := devstacktest.ParsePingappJob(t, nomad, map[string]string{
		"pingapp_bin": bin, "database_port": fmt.Sprint(s.Ports.Postgres),
	})
	for _, j := range []*nomadapi.Job{pingapp, parkedJob("keepme")} {
		if _, _, err := nomad.Jobs().Register(j, nil); err != nil {
			t.Fatalf("register %s: %v", *j.ID, err)
		}
	}
	if _, err := consul.KV().Put(&consulapi.KVPair{Key: "snaptest/greeting", Value: []byte("hello")}, nil); err != nil {
		t.Fatal(err)
	}
	if err := vault.Sys().Mount("snaptest", &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := vault.Logical().Write("snaptest/app", map[string]any{"answer": "42"}); err != nil {
		t.Fatal(err)
	}
	devstacktest.Eventually(t, 3*time.Minute, "pingapp answering", func() error { return pingOnce(consul) })

	out := filepath.Join(s.Dir, "snapshots")
	start := time.Now()
	r := runApp(t, nil, "snapshot", "save", "--out", out, "--json")
	saveTook := time.Since(start)
	if r.code != ExitOK {
		t.Fatalf("snapshot save: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var saved snapshotResult
	if err := json.Unmarshal([]byte(r.stdout), &saved); err != nil {
		t.Fatalf("save --json: %v\n%s", err, r.stdout)
	}
	if len(saved.Files) != 3 || !strings.HasPrefix(filepath.Base(saved.Dir), "hstack-snapshot-") {
		t.Fatalf("saved %+v", saved)
	}
	for _, leak := range []string{s.VaultToken()} {
		if strings.Contains(r.stdout+r.stderr, leak) {
			t.Error("snapshot save printed the Vault token")
		}
	}

	r = runApp(t, nil, "snapshot", "verify", saved.Dir)
	if r.code != ExitOK {
		t.Fatalf("verify: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, cmd := range []string{"nomad operator snapshot inspect nomad.snap: ok", "consul snapshot inspect consul.snap: ok", "vault operator raft snapshot inspect vault.snap: ok"} {
		if !strings.Contains(r.stdout, cmd) {
			t.Errorf("verify did not run %q:\n%s", cmd, r.stdout)
		}
	}

	// Changes after the snapshot, which a refused restore must leave alone.
	if _, _, err := nomad.Jobs().Register(parkedJob("after"), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := consul.KV().Put(&consulapi.KVPair{Key: "snaptest/after", Value: []byte("x")}, nil); err != nil {
		t.Fatal(err)
	}

	// A tampered copy: one byte of Consul's snapshot changed.
	bad := filepath.Join(s.Dir, "tampered")
	copyDir(t, saved.Dir, bad)
	snap := filepath.Join(bad, "consul.snap")
	b, _ := os.ReadFile(snap)
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(snap, b, 0o600); err != nil {
		t.Fatal(err)
	}
	r = runApp(t, nil, "snapshot", "verify", bad)
	if r.code != ExitFailure || !strings.Contains(r.stdout, "consul.snap: SHA-256") {
		t.Errorf("verify of a tampered set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runApp(t, nil, "snapshot", "restore", "--yes", bad)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "nothing restored") {
		t.Errorf("restore of a tampered set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// The sums file edited to match the tampered file: the product's own
	// inspection still refuses it.
	m, _ := snapshot.ReadManifest(bad)
	fixed := reSum(t, bad, m)
	if err := os.WriteFile(filepath.Join(bad, snapshot.ManifestFile), fixed, 0o600); err != nil {
		t.Fatal(err)
	}
	m, _ = snapshot.ReadManifest(bad)
	if err := os.WriteFile(filepath.Join(bad, snapshot.SumsFile), []byte(snapshot.SumsText(m)), 0o600); err != nil {
		t.Fatal(err)
	}
	r = runApp(t, nil, "snapshot", "restore", "--yes", bad)
	if r.code != ExitFailure || !strings.Contains(r.stdout, "FAIL consul snapshot inspect") {
		t.Errorf("restore of a re-summed tampered set: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if j, _, err := nomad.Jobs().Info("after", nil); err != nil || *j.ID != "after" {
		t.Errorf("a refused restore changed Nomad: job after: %v", err)
	}
	if kv, _, err := consul.KV().Get("snaptest/after", nil); err != nil || kv == nil {
		t.Errorf("a refused restore changed Consul: snaptest/after: %v %v", kv, err)
	}

	// Destroy what was saved.
	for _, id := range []string{"pingapp", "keepme"} {
		if _, _, err := nomad.Jobs().Deregister(id, true, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := consul.KV().DeleteTree("snaptest/", nil); err != nil {
		t.Fatal(err)
	}
	if err := vault.Sys().Unmount("snaptest"); err != nil {
		t.Fatal(err)
	}
	devstacktest.Eventually(t, 2*time.Minute, "pingapp gone from Consul", func() error {
		entries, _, err := consul.Health().Service("pingapp", "", false, nil)
		if err != nil || len(entries) > 0 {
			return fmt.Errorf("%d instances, %v", len(entries), err)
		}
		return nil
	})

	// Without --yes it asks; anything but "yes" restores nothing.
	r = runAppInput(t, "no\n", "snapshot", "restore", saved.Dir)
	if r.code != ExitFailure || !strings.Contains(r.stderr, "Type 'yes'") || !strings.Contains(r.stderr, "not confirmed") {
		t.Errorf("restore answered no: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, _, err := nomad.Jobs().Info("keepme", nil); err == nil {
		t.Error("restore answered no, yet keepme is back")
	}

	start = time.Now()
	r = runAppInput(t, "yes\n", "snapshot", "restore", saved.Dir)
	restoreTook := time.Since(start)
	if r.code != ExitOK {
		t.Fatalf("restore: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	devstacktest.Eventually(t, time.Minute, "jobs back in Nomad", func() error {
		for _, id := range []string{"pingapp", "keepme"} {
			if _, _, err := nomad.Jobs().Info(id, nil); err != nil {
				return fmt.Errorf("%s: %w", id, err)
			}
		}
		if _, _, err := nomad.Jobs().Info("after", nil); err == nil {
			return fmt.Errorf("job after, registered after the snapshot, is still there")
		}
		return nil
	})
	devstacktest.Eventually(t, time.Minute, "KV back in Consul", func() error {
		kv, _, err := consul.KV().Get("snaptest/greeting", nil)
		if err != nil || kv == nil || string(kv.Value) != "hello" {
			return fmt.Errorf("snaptest/greeting = %v, %v", kv, err)
		}
		return nil
	})
	devstacktest.Eventually(t, time.Minute, "secret back in Vault", func() error {
		sec, err := vault.Logical().Read("snaptest/app")
		if err != nil || sec == nil || sec.Data["answer"] != "42" {
			return fmt.Errorf("snaptest/app = %v, %v", sec, err)
		}
		return nil
	})
	devstacktest.Eventually(t, 4*time.Minute, "pingapp answering after the restore", func() error { return pingOnce(consul) })
	t.Logf("snapshot save took %v; restore %v; pingapp answering %v after the restore began",
		saveTook.Round(time.Millisecond), restoreTook.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o700); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// reSum rewrites a manifest with the files' current sums, as an attacker
// who can write the whole directory would.
func reSum(t *testing.T, dir string, m *snapshot.Manifest) []byte {
	t.Helper()
	tmp := t.TempDir()
	var ps []snapshot.Product
	for _, f := range m.Files {
		b, err := os.ReadFile(filepath.Join(dir, f.Name))
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, bytesProduct{f.Product, b})
	}
	d, _, err := snapshot.Save(context.Background(), tmp, m.CreatedAt, m.Hstack, ps...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(d, snapshot.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type bytesProduct struct {
	name string
	b    []byte
}

func (p bytesProduct) Name() string { return p.name }
func (p bytesProduct) Save(_ context.Context, w io.Writer) error {
	_, err := w.Write(p.b)
	return err
}
func (p bytesProduct) Restore(context.Context, io.Reader) error { return nil }
