// Package vaultpolicies embeds hstack's Vault policies, so what hstack writes
// to Vault is exactly the reviewed file in this directory.
package vaultpolicies

import (
	_ "embed"
	"slices"
	"strings"
)

//go:embed nomad-workloads.hcl
var nomadWorkloads string

// NomadWorkloads returns the workload policy bound to the JWT auth mount
// with the given accessor, with one path block per database secrets engine
// mount (sorted, duplicates dropped; none means "database") and read on the
// job's own kv/data/hstack/<job>.
func NomadWorkloads(jwtMountAccessor string, databaseMounts []string) string {
	mounts := slices.Clone(databaseMounts)
	if len(mounts) == 0 {
		mounts = []string{"database"}
	}
	slices.Sort(mounts)
	mounts = slices.Compact(mounts)
	// The file is a header and blank-line separated blocks; only the block
	// naming DATABASE_MOUNT is per mount.
	var b strings.Builder
	for i, block := range strings.Split(nomadWorkloads, "\n\n") {
		if i > 0 {
			b.WriteString("\n\n")
		}
		if !strings.HasPrefix(block, "path ") || !strings.Contains(block, "DATABASE_MOUNT") {
			b.WriteString(block)
			continue
		}
		for j, m := range mounts {
			if j > 0 {
				b.WriteString("\n\n")
			}
			b.WriteString(strings.ReplaceAll(block, "DATABASE_MOUNT", strings.Trim(m, "/")))
		}
	}
	return strings.ReplaceAll(b.String(), "AUTH_METHOD_ACCESSOR", jwtMountAccessor)
}
