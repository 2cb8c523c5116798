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
// mount (sorted, duplicates dropped; none means "database").
func NomadWorkloads(jwtMountAccessor string, databaseMounts []string) string {
	mounts := slices.Clone(databaseMounts)
	if len(mounts) == 0 {
		mounts = []string{"database"}
	}
	slices.Sort(mounts)
	mounts = slices.Compact(mounts)
	i := strings.Index(nomadWorkloads, "path ")
	head, block := nomadWorkloads[:i], nomadWorkloads[i:]
	var b strings.Builder
	b.WriteString(head)
	for j, m := range mounts {
		if j > 0 {
			b.WriteString("\n")
		}
		b.WriteString(strings.ReplaceAll(block, "DATABASE_MOUNT", strings.Trim(m, "/")))
	}
	return strings.ReplaceAll(b.String(), "AUTH_METHOD_ACCESSOR", jwtMountAccessor)
}
