// Package analysis decides whether a new version of an app is good enough
// to proceed: it measures Prometheus queries about the canary (Run) and
// makes HTTP smoke requests to each canary instance (Smoke).
//
// The release gate (pkg/release) owns the when: it calls Run for every
// analysis a step names (declared in the stack file or one of the
// built-ins, see Lookup) and Smoke once new instances are healthy, and the
// rollout engine then promotes, waits or rolls back on its verdict. This package owns only the verdicts, so they can be tested without
// Nomad and with an injectable clock.
//
// docs/analysis.md is the user-facing reference.
package analysis
