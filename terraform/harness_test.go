// Package terraform holds no code: its tests prove hstack's Terraform
// (modules, environments, bootstrap) with the real terraform binary, the
// real AWS provider (built offline by scripts/tools.sh into a filesystem
// mirror), Trivy and terraform-config-inspect. They work on a copy of this
// directory in a temporary one, so nothing (.terraform, lock files, state)
// is ever written into the repository.
package terraform

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// srcDir is this directory, terraform/ in the repository.
func srcDir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("cannot locate terraform/")
	}
	return filepath.Dir(file)
}

// roots lists every directory under terraform/ that holds .tf files: the
// modules, the environments' layers and outputs roots, and bootstrap,
// relative to terraform/ and sorted.
func roots(t testing.TB) []string {
	t.Helper()
	base := srcDir(t)
	seen := map[string]bool{}
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".tf") {
			rel, _ := filepath.Rel(base, filepath.Dir(p))
			seen[rel] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for d := range seen {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// terraformBin finds the Terraform CLI the way hstack does.
func terraformBin(t testing.TB) string {
	t.Helper()
	bin, err := tools.Find("terraform")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return bin
}

// awsMirror is the directory of the offline AWS provider build.
func awsMirror(t testing.TB) string {
	t.Helper()
	dir, err := tools.AWSProviderMirror()
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	return dir
}

// copyTree copies terraform/ into a temporary directory (the .tf and
// .tftest.hcl files and the rest of the sources; no working data) and
// returns the copy's path.
func copyTree(t testing.TB) string {
	t.Helper()
	src, dst := srcDir(t), t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(p, ".go") || strings.Contains(d.Name(), ".tfstate") || d.Name() == ".terraform.lock.hcl" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// tfEnv is the environment terraform runs in: the project's CLI config
// (the AWS provider from the offline mirror, nothing from a registry),
// working data in dataDir, no plugin cache, no update checks.
func tfEnv(mirror, dataDir string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TF_") || strings.HasPrefix(kv, "CHECKPOINT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env,
		"TF_CLI_CONFIG_FILE="+filepath.Join(mirror, "terraformrc"),
		"TF_DATA_DIR="+dataDir,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
	)
}

// tf runs terraform in dir and returns its combined output and error.
func tf(t testing.TB, bin string, env []string, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}
