// Package vaultpolicies embeds hstack's Vault policies, so what hstack writes
// to Vault is exactly the reviewed file in this directory.
package vaultpolicies

import (
	_ "embed"
	"strings"
)

//go:embed nomad-workloads.hcl
var nomadWorkloads string

// NomadWorkloads returns the workload policy bound to the JWT auth mount with
// the given accessor.
func NomadWorkloads(jwtMountAccessor string) string {
	return strings.ReplaceAll(nomadWorkloads, "AUTH_METHOD_ACCESSOR", jwtMountAccessor)
}
