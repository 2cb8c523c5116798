// Package stackfile reads hstack.hcl, the declarative description of a
// stack: apps, PostgreSQL databases with Vault roles, rollout policies,
// notifiers, ingress and monitoring, plus per-environment overrides.
//
// Load and Parse return a *Stack resolved for one environment, with input
// variables substituted, the environment merged in, defaults filled in
// and every rule checked, or hcl.Diagnostics that point at the file, line
// and column of each problem. The renderer and the deploy engine consume
// the Stack and never see HCL syntax.
//
// Loading happens in phases, each reporting everything it finds before
// the next runs on a clean result:
//
//  1. parse; reject unknown blocks and duplicate names anywhere in the file;
//  2. declare the variables and resolve their values (default <
//     HSTACK_VAR_<name> < -var-file < -var);
//  3. merge the selected environment into the base syntax tree;
//  4. decode every block: types, enums, ranges, durations, required
//     attributes, inline secrets;
//  5. check rules between attributes and blocks (references, rollout
//     consistency) and fill in defaults that depend on them.
//
// docs/stack-file.md is the user-facing reference.
package stackfile
