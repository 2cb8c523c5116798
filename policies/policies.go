// Package policies embeds every ACL policy in this directory, so a built
// hstack applies exactly the reviewed files; `hstack bootstrap acl
// --policies DIR` reads a checkout instead.
package policies

import "embed"

// FS holds nomad/*.hcl, consul/*.hcl and vault/*.hcl.
//
//go:embed nomad/*.hcl consul/*.hcl vault/*.hcl
var FS embed.FS
