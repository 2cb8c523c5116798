package delivery

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestGoReleaserSnapshotRelease runs the release pipeline of
// .goreleaser.yaml offline: `goreleaser release --snapshot --clean` builds,
// archives, checksums and (with syft) writes an SBOM per archive, and
// publishes nothing. It runs on a copy of the working tree committed into
// a fresh git repository, so dist/ is never written into the checkout, and
// with the builds narrowed to this machine's platform: compiling every
// GOOS/GOARCH of the matrix would cost minutes of both cores per run,
// and `goreleaser check` (TestGoReleaserCheck) already validates the
// whole matrix.
func TestGoReleaserSnapshotRelease(t *testing.T) {
	if testing.Short() {
		t.Skip("builds hstack and pingapp with GoReleaser and scans the archives with syft")
	}
	goreleaser := need(t, "goreleaser")
	syft := need(t, "syft")
	git := need(t, "git")
	r := root(t)

	src := filepath.Join(t.TempDir(), "hstack")
	copyWorkingTree(t, git, r, src)
	gitEnv := append(os.Environ(), "GIT_AUTHOR_NAME=hstack test", "GIT_AUTHOR_EMAIL=test@hstack.invalid",
		"GIT_COMMITTER_NAME=hstack test", "GIT_COMMITTER_EMAIL=test@hstack.invalid", "GIT_CONFIG_GLOBAL=/dev/null")
	for _, args := range [][]string{{"init", "-q", "-b", "main"}, {"add", "-A"}, {"-c", "commit.gpgsign=false", "commit", "-q", "-m", "snapshot"}} {
		cmd := exec.Command(git, args...)
		cmd.Dir, cmd.Env = src, gitEnv
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %s: %v\n%s", args[0], err, out)
		}
	}

	cfg := hostOnlyConfig(t, filepath.Join(r, ".goreleaser.yaml"))
	cmd := exec.Command(goreleaser, "release", "--snapshot", "--clean", "--config", cfg)
	cmd.Dir = src
	// syft from the tool cache; neither it nor Go may go online.
	cmd.Env = append(gitEnv, "PATH="+filepath.Dir(syft)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"SYFT_CHECK_FOR_APP_UPDATE=false", "GOTOOLCHAIN=local", "GOFLAGS=-mod=mod", "GORELEASER_CURRENT_TAG=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("goreleaser release --snapshot: %v\n%s", err, out)
	}
	dist := filepath.Join(src, "dist")

	// checksums.txt lists every archive with its real SHA-256.
	sums := readChecksums(t, filepath.Join(dist, "checksums.txt"))
	platform := runtime.GOOS + "_" + runtime.GOARCH
	var archives []string
	for name, sum := range sums {
		b, err := os.ReadFile(filepath.Join(dist, name))
		if err != nil {
			t.Errorf("checksums.txt lists %s: %v", name, err)
			continue
		}
		if got := sha256.Sum256(b); hex.EncodeToString(got[:]) != sum {
			t.Errorf("checksums.txt: %s has SHA-256 %x, not %s", name, got, sum)
		}
		if strings.HasSuffix(name, ".tar.gz") {
			archives = append(archives, name)
		}
	}
	for _, prefix := range []string{"hstack_", "pingapp_"} {
		found := false
		for _, a := range archives {
			found = found || (strings.HasPrefix(a, prefix) && strings.HasSuffix(a, "_"+platform+".tar.gz"))
		}
		if !found {
			t.Errorf("no %s*_%s.tar.gz among the checksummed archives %v", prefix, platform, archives)
		}
	}

	// One SPDX SBOM per archive, naming the Go modules in the binary.
	for _, a := range archives {
		p := filepath.Join(dist, a+".sbom.json")
		b, err := os.ReadFile(p)
		if err != nil {
			t.Errorf("no SBOM for %s: %v", a, err)
			continue
		}
		var doc struct {
			SPDXVersion string `json:"spdxVersion"`
			Packages    []struct {
				Name string `json:"name"`
			} `json:"packages"`
		}
		if err := json.Unmarshal(b, &doc); err != nil || !strings.HasPrefix(doc.SPDXVersion, "SPDX-") {
			t.Errorf("%s is not an SPDX JSON document: %v", p, err)
			continue
		}
		names := map[string]bool{}
		for _, pkg := range doc.Packages {
			names[pkg.Name] = true
		}
		want := "github.com/jackc/pgx/v5" // pingapp's PostgreSQL driver
		if strings.HasPrefix(a, "hstack_") {
			want = "github.com/hashicorp/nomad/api"
		}
		if !names[want] {
			t.Errorf("%s: the SBOM of %s does not list the binary's Go module %s (%d packages)", p, a, want, len(doc.Packages))
		}
	}

	// The binary is the snapshot's, stamped with its version.
	bins, _ := filepath.Glob(filepath.Join(dist, "hstack_"+platform+"*", "hstack"))
	if len(bins) != 1 {
		t.Fatalf("hstack binary for %s in dist: %v", platform, bins)
	}
	v, err := exec.Command(bins[0], "version").CombinedOutput()
	if err != nil || !strings.Contains(string(v), "SNAPSHOT") {
		t.Errorf("%s version: %v\n%s", bins[0], err, v)
	}
	t.Logf("goreleaser release --snapshot: %d checksummed files, SBOMs for %v", len(sums), archives)
}

// copyWorkingTree copies the files git knows of or would add (tracked, and
// untracked but not ignored) from root to dst: the tree as it would be
// committed, without build output, state or secrets.
func copyWorkingTree(t *testing.T, git, root, dst string) {
	t.Helper()
	cmd := exec.Command(git, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	cmd.Dir = root
	list, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files in %s: %v", root, err)
	}
	for _, rel := range strings.Split(strings.TrimRight(string(list), "\x00"), "\x00") {
		fi, err := os.Lstat(filepath.Join(root, rel))
		if err != nil || !fi.Mode().IsRegular() {
			continue // deleted in the working tree, or a symlink
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
}

// hostOnlyConfig writes a copy of the GoReleaser config whose builds
// target only this machine's GOOS/GOARCH, and returns its path.
func hostOnlyConfig(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	builds, ok := cfg["builds"].([]any)
	if !ok || len(builds) == 0 {
		t.Fatalf("%s has no builds", path)
	}
	for _, b := range builds {
		m := b.(map[string]any)
		m["goos"] = []string{runtime.GOOS}
		m["goarch"] = []string{runtime.GOARCH}
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	if err := enc.Encode(cfg); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "goreleaser.yaml")
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// readChecksums parses a sha256sum-format file into name -> hex digest.
func readChecksums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: not a sha256sum line: %q", path, sc.Text())
		}
		sums[name] = sum
	}
	if len(sums) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return sums
}
