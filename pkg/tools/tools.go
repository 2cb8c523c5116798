// Package tools finds the Nomad, Consul, Vault and PostgreSQL binaries that
// hstack runs locally, at the versions pinned in versions.env.
package tools

import (
	"bufio"
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
	return Versions()[strings.ToUpper(name)+"_VERSION"]
}

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
	if p := os.Getenv("HSTACK_" + strings.ToUpper(name) + "_BIN"); p != "" {
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
	fmt.Sscanf(filepath.Base(filepath.Dir(filepath.Dir(pgctl))), "%d", &n)
	return n
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}
