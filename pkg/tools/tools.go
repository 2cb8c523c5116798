// Package tools finds the Nomad, Consul, Vault and PostgreSQL binaries that
// hstack runs locally, at the versions pinned in versions.env.
package tools

import (
	"bufio"
	"crypto/sha256"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

//go:embed versions.env
var versionsEnv string

// VersionsEnv is versions.env as it is, for the provisioning scripts that
// source it beside themselves (`hstack dev up --cluster`).
func VersionsEnv() string { return versionsEnv }

// Versions returns the pinned tool versions (NOMAD_VERSION and so on) from
// versions.env, the file scripts/tools.sh sources too.
func Versions() map[string]string {
	v := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(versionsEnv))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, val, ok := strings.Cut(line, "="); ok {
			v[k] = val
		}
	}
	return v
}

// Version returns the pinned version of a tool ("nomad", "consul", ...).
func Version(name string) string {
	return Versions()[envName(name)+"_VERSION"]
}

// envName is a tool's name as it appears in variable names:
// nomad-autoscaler is NOMAD_AUTOSCALER.
func envName(name string) string { return strings.ToUpper(strings.ReplaceAll(name, "-", "_")) }

// CacheDir is where scripts/tools.sh puts the binaries it builds.
func CacheDir() string {
	if d := os.Getenv("HSTACK_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "hstack-cache")
	}
	return filepath.Join(home, ".cache", "hstack")
}

// ErrNotFound is returned when a tool is neither on PATH nor in the cache.
var ErrNotFound = errors.New("not found")

// Find locates a HashiCorp tool. Order: $HSTACK_<NAME>_BIN, the builder's
// cache for the pinned version, then PATH. The cache wins over PATH so tests
// run the pinned version even when a developer has another one installed.
// For Nomad the build with the web UI (NomadUIDir) wins over the plain one.
func Find(name string) (string, error) {
	if p := os.Getenv("HSTACK_" + envName(name) + "_BIN"); p != "" {
		return p, nil
	}
	ver := Version(name)
	if name == "nomad" {
		if p := filepath.Join(NomadUIDir(), "nomad"); isExecutable(p) {
			return p, nil
		}
	}
	if ver != "" {
		p := filepath.Join(CacheDir(), "tools", name+"-"+ver, name)
		if isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s %s: %w on PATH or in %s (run `make tools` or scripts/tools.sh %s)",
		name, ver, ErrNotFound, filepath.Join(CacheDir(), "tools"), name)
}

// NomadUIDir is where scripts/tools.sh nomad-ui puts the pinned Nomad built
// with its web UI embedded: the binary "nomad", and "dist", the Ember build it
// embeds (what the agent serves under /ui/).
func NomadUIDir() string {
	return filepath.Join(CacheDir(), "tools", "nomad-ui-"+Version("nomad"))
}

// AlertmanagerUIDir is where scripts/tools.sh alertmanager-ui writes
// Alertmanager's web UI (for --web.ui-path), "" when it has not.
func AlertmanagerUIDir() string {
	d := filepath.Join(CacheDir(), "tools", "alertmanager-ui-"+Versions()["ALERTMANAGER_UI_VERSION"], "ui")
	if _, err := os.Stat(filepath.Join(d, "index.html")); err != nil {
		return ""
	}
	return d
}

// FindPostgres locates a PostgreSQL server binary directory (the one holding
// initdb, pg_ctl and postgres). Debian keeps them off PATH, under
// /usr/lib/postgresql/<major>/bin.
func FindPostgres() (string, error) {
	if d := os.Getenv("HSTACK_PG_BINDIR"); d != "" {
		return d, nil
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		return filepath.Dir(p), nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_ctl")
	if len(matches) > 0 {
		// Glob sorts lexically; prefer the newest major version.
		best := matches[0]
		for _, m := range matches[1:] {
			if majorOf(m) > majorOf(best) {
				best = m
			}
		}
		return filepath.Dir(best), nil
	}
	return "", fmt.Errorf("postgresql server (initdb, pg_ctl): %w (install the Debian package postgresql)", ErrNotFound)
}

func majorOf(pgctl string) int {
	var n int
	// A directory that is not a number leaves 0, which sorts last: what we want.
	_, _ = fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(pgctl))), "%d", &n)
	return n
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

//go:embed aws-provider-services.txt
var awsProviderServices string

// AWSProviderServices returns the AWS provider's service packages that
// scripts/tools.sh builds in (aws-provider-services.txt, comments dropped).
func AWSProviderServices() []string {
	var s []string
	for _, line := range strings.Split(awsProviderServices, "\n") {
		if t := strings.TrimSpace(line); t != "" && !strings.HasPrefix(t, "#") {
			s = append(s, line)
		}
	}
	return s
}

// AWSProviderMirror returns the directory scripts/tools.sh builds the AWS
// provider into: a filesystem mirror (mirror/) and the Terraform CLI
// configuration that installs from it (terraformrc). The directory is named
// by the provider version and a hash of the service list, as tools.sh names
// it, so a changed list is a different (not yet built) provider.
func AWSProviderMirror() (string, error) {
	ver := Versions()["AWS_PROVIDER_VERSION"]
	var list strings.Builder
	for _, s := range AWSProviderServices() {
		list.WriteString(s + "\n")
	}
	sum := sha256.Sum256([]byte(list.String()))
	dir := filepath.Join(CacheDir(), "tools", fmt.Sprintf("aws-provider-%s-%x", ver, sum[:6]))
	bin := filepath.Join(dir, "mirror", "registry.terraform.io", "hashicorp", "aws", ver, "linux_amd64", "terraform-provider-aws_v"+ver)
	if !isExecutable(bin) || !isFile(filepath.Join(dir, "terraformrc")) {
		return "", fmt.Errorf("AWS provider %s: %w in %s (run `make runtime-tools` or scripts/tools.sh aws-provider)", ver, ErrNotFound, dir)
	}
	return dir, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
