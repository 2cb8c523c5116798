package snapshot

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// fake is a product in memory; the real ones are exercised against real
// servers in pkg/cli's snapshot integration test.
type fake struct {
	name     string
	state    []byte
	saveErr  error
	restored [][]byte
}

func (f *fake) Name() string { return f.name }
func (f *fake) Save(_ context.Context, w io.Writer) error {
	if f.saveErr != nil {
		return f.saveErr
	}
	_, err := w.Write(f.state)
	return err
}
func (f *fake) Restore(_ context.Context, r io.Reader) error {
	b, err := io.ReadAll(r)
	f.restored = append(f.restored, b)
	return err
}

var t0 = time.Date(2026, 12, 1, 21, 30, 5, 0, time.UTC)

func save(t *testing.T, ps ...Product) (string, *Manifest) {
	t.Helper()
	dir, m, err := Save(context.Background(), t.TempDir(), t0, "test", ps...)
	if err != nil {
		t.Fatal(err)
	}
	return dir, m
}

func TestSaveWritesATimestampedSetWithSums(t *testing.T) {
	n, c := &fake{name: "nomad", state: []byte("nomad state")}, &fake{name: "consul", state: []byte("consul state")}
	dir, m := save(t, n, c)
	if filepath.Base(dir) != "hstack-snapshot-20261201T213005Z" {
		t.Errorf("set dir %s", dir)
	}
	if len(m.Files) != 2 || m.Files[0].Product != "nomad" || m.Files[0].Size != int64(len("nomad state")) {
		t.Fatalf("manifest %+v", m)
	}
	sums, _ := os.ReadFile(filepath.Join(dir, SumsFile))
	// sha256sum -c format, sha256("nomad state").
	if !strings.Contains(string(sums), m.Files[0].SHA256+"  nomad.snap\n") {
		t.Errorf("SHA256SUMS:\n%s", sums)
	}
	read, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if probs := CheckSums(dir, read); len(probs) != 0 {
		t.Errorf("fresh set has problems: %v", probs)
	}
	fi, _ := os.Stat(filepath.Join(dir, "consul.snap"))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("snapshot mode %v, want 0600 (it holds secrets)", fi.Mode().Perm())
	}
}

func TestSaveLeavesNothingOnFailure(t *testing.T) {
	parent := t.TempDir()
	_, _, err := Save(context.Background(), parent, t0, "test",
		&fake{name: "nomad", state: []byte("x")}, &fake{name: "vault", saveErr: errors.New("not raft")})
	if err == nil || !strings.Contains(err.Error(), "vault snapshot: not raft") {
		t.Fatalf("err %v", err)
	}
	left, _ := os.ReadDir(parent)
	if len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
	if _, _, err := Save(context.Background(), parent, t0, "test", &fake{name: "nomad"}); err == nil {
		t.Error("an empty snapshot was accepted")
	}
}

func TestTamperedSetIsRefusedAndNothingRestored(t *testing.T) {
	n, c := &fake{name: "nomad", state: []byte("nomad state")}, &fake{name: "consul", state: []byte("consul state")}
	dir, _ := save(t, n, c)
	if err := os.WriteFile(filepath.Join(dir, "consul.snap"), []byte("consul statf"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _ := ReadManifest(dir)
	probs := CheckSums(dir, m)
	if len(probs) != 1 || probs[0].File != "consul.snap" || !strings.Contains(probs[0].What, "the manifest says") {
		t.Fatalf("problems %v", probs)
	}
	_, err := Restore(context.Background(), dir, nil, n, c)
	var ce *ChecksumError
	if !errors.As(err, &ce) {
		t.Fatalf("restore of a tampered set: %v", err)
	}
	if len(n.restored)+len(c.restored) != 0 {
		t.Error("a product was restored from a tampered set")
	}
}

func TestSumsFileMustAgreeWithManifest(t *testing.T) {
	dir, m := save(t, &fake{name: "nomad", state: []byte("a")})
	if err := os.WriteFile(filepath.Join(dir, SumsFile), []byte(strings.Repeat("0", 64)+"  nomad.snap\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if probs := CheckSums(dir, m); len(probs) != 1 || probs[0].File != SumsFile {
		t.Errorf("problems %v", probs)
	}
}

func TestRestoreSendsEachSnapshotToItsProduct(t *testing.T) {
	n, c := &fake{name: "nomad", state: []byte("nomad state")}, &fake{name: "consul", state: []byte("consul state")}
	dir, _ := save(t, n, c)
	var order []string
	if _, err := Restore(context.Background(), dir, func(p string) { order = append(order, p) }, c, n); err != nil {
		t.Fatal(err)
	}
	if strings.Join(order, ",") != "consul,nomad" {
		t.Errorf("order %v", order)
	}
	if !bytes.Equal(n.restored[0], n.state) || !bytes.Equal(c.restored[0], c.state) {
		t.Errorf("restored %q %q", n.restored, c.restored)
	}
	// A set and a list of products that do not match restore nothing.
	v := &fake{name: "vault"}
	if _, err := Restore(context.Background(), dir, nil, n, c, v); err == nil || len(v.restored) != 0 {
		t.Errorf("restore with a product the set lacks: %v", err)
	}
	if _, err := Restore(context.Background(), dir, nil, n); err == nil || len(n.restored) != 1 {
		t.Errorf("restore leaving out a product of the set: %v", err)
	}
}

func TestReadManifestRejectsPathsOutsideTheSet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, ManifestFile), []byte(`{"format":1,"files":[{"product":"nomad","name":"../x","sha256":"00"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir); err == nil || !strings.Contains(err.Error(), `bad file name "../x"`) {
		t.Errorf("err %v", err)
	}
	if _, err := ReadManifest(t.TempDir()); !errors.Is(err, ErrNotASet) {
		t.Errorf("empty dir: %v", err)
	}
}

func TestStaleAllocs(t *testing.T) {
	stub := func(id, desired, client string) *nomadapi.AllocationListStub {
		return &nomadapi.AllocationListStub{ID: id, DesiredStatus: desired, ClientStatus: client}
	}
	before := []*nomadapi.AllocationListStub{
		stub("kept", "run", "running"),
		stub("stopped-since", "stop", "complete"),
		stub("pending", "run", "pending"),
	}
	after := []*nomadapi.AllocationListStub{
		stub("kept", "run", "running"),
		stub("stopped-since", "run", "running"),
		stub("pending", "run", "pending"),
		stub("unknown-here", "run", "running"),
		stub("dead-in-snapshot", "stop", "complete"),
	}
	got := strings.Join(StaleAllocs(before, after), ",")
	if got != "stopped-since,unknown-here" {
		t.Errorf("stale %s", got)
	}
}
