// Package appconfig keeps each app's configuration (the stack file's
// `config = {...}`) in Consul KV and tells the renderer how a task reads it.
//
// # Layout
//
//	hstack/<stack>/<app>/<version>/<key> = <value>
//
// <version> is Checksum of the whole map. A version is immutable: a config
// change is a new version under a new path, and the app's job names the
// version it reads (in a template and in job meta). That makes a config
// change a new job version, rolled out like an image change: canaries read
// the new keys while the stable allocations keep reading theirs, and a
// rollback (Nomad's auto_revert or `hstack rollback`) returns to a job
// version whose keys are still there. Editing live keys in place could do
// neither.
//
// Sync writes the declared version of every app and deletes versions that
// no job version Nomad still keeps refers to, so keys no longer declared
// disappear once nothing can roll back to them.
package appconfig

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Root is the KV folder everything of hstack's lives under.
const Root = "hstack"

// MetaKey is the job meta key holding the config version a job reads.
const MetaKey = "hstack_config"

// File is where the rendered configuration lands, relative to the task
// directory; FileEnv is the task's environment variable naming it.
const (
	File    = "config.json"
	FileEnv = stackfile.ConfigFileEnv
)

// versionLen is the number of hex digits of a version: 64 bits, so two
// configurations of one app never share a version by accident.
const versionLen = 16

// StackPrefix is the KV folder of a stack, with a trailing slash.
func StackPrefix(stack string) string { return Root + "/" + stack + "/" }

// AppPrefix is the KV folder of an app, with a trailing slash.
func AppPrefix(stack, app string) string { return StackPrefix(stack) + app + "/" }

// VersionPrefix is the KV folder of one version of an app's configuration.
func VersionPrefix(stack, app, version string) string {
	return AppPrefix(stack, app) + version + "/"
}

// Checksum is the version of a configuration: "" for an empty one (an app
// without config reads nothing from KV).
func Checksum(cfg map[string]string) string {
	if len(cfg) == 0 {
		return ""
	}
	h := sha256.New()
	// Length-prefixed, so no choice of keys and values can make two
	// different maps hash alike.
	var n [8]byte
	for _, k := range slices.Sorted(maps.Keys(cfg)) {
		for _, s := range []string{k, cfg[k]} {
			binary.BigEndian.PutUint64(n[:], uint64(len(s)))
			h.Write(n[:])
			h.Write([]byte(s))
		}
	}
	return hex.EncodeToString(h.Sum(nil))[:versionLen]
}

// ErrInvalidKey matches (errors.Is) every error about a config key's name.
var ErrInvalidKey = errors.New("invalid config key")

type invalidKey struct{ error }

func (invalidKey) Is(target error) bool { return target == ErrInvalidKey }

// ValidKey explains why k cannot be a config key, or returns nil; the rule
// is the stack file's (stackfile.ValidConfigKey), checked again here
// because the key ends up inside a template.
func ValidKey(k string) error {
	if err := stackfile.ValidConfigKey(k); err != nil {
		return invalidKey{err}
	}
	return nil
}

// Template is the Nomad template text that renders version of app's
// configuration as a JSON object. Every key is read with `key`, which
// blocks until the key exists, so a task never starts on a half-written
// or missing configuration.
func Template(stack, app string, cfg map[string]string) (string, error) {
	if len(cfg) == 0 {
		return "", nil
	}
	version := Checksum(cfg)
	var b strings.Builder
	b.WriteString("{\n")
	keys := slices.Sorted(maps.Keys(cfg))
	for i, k := range keys {
		if err := ValidKey(k); err != nil {
			return "", fmt.Errorf("app %q: %w", app, err)
		}
		name, _ := json.Marshal(k)
		fmt.Fprintf(&b, "  %s: {{ key %q | toJSON }}", name, VersionPrefix(stack, app, version)+k)
		if i < len(keys)-1 {
			b.WriteString(",")
		}
		b.WriteString("\n")
	}
	b.WriteString("}\n")
	return b.String(), nil
}
