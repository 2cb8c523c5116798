// Package jobmeta is the contract between the packages that write a Nomad
// job's meta and service tags (render, the stepped-canary engine) and those
// that read them back (rollout, release, catalog, status and history): the
// key names and the release tag, in one place.
package jobmeta

// Job meta keys. Version and Commit are shared with the app's own meta (an
// app may set them itself); keys with ReservedPrefix are hstack's.
const (
	Version       = "version"
	Commit        = "commit"
	HstackVersion = "hstack_version"
	Stack         = "hstack_stack"
	// Strategy is the rollout strategy the version was released with.
	Strategy = "hstack_strategy"

	// A stepped canary's job versions carry the release being canaried, the
	// stable version it runs beside, and the step reached, so a rerun
	// resumes and promote or abort know what to do.
	CanaryRelease  = "hstack_canary_release"
	CanaryBaseline = "hstack_canary_baseline"
	CanaryStep     = "hstack_canary_step"

	ReservedPrefix = "hstack_"
)

// Canary is both the Consul tag on canary instances (Nomad's canary_tags)
// and their service meta key (canary = "true"), which Consul, Prometheus
// relabelling and `hstack services` use to tell canaries apart.
const Canary = "canary"

// CanarySuffix names the extra task group of a stepped canary:
// "<group>-canary".
const CanarySuffix = "-canary"

// ReleaseTag names the Nomad job version tag of a released app version, so
// `hstack rollback --to-tag` finds it; every release command tags the same
// way.
func ReleaseTag(version string) string {
	return "release-" + SanitizeTag(version)
}

// SanitizeTag keeps a version usable in a Nomad version tag name: letters,
// digits, '.', '-' and '_'; anything else becomes '-'.
func SanitizeTag(v string) string {
	out := []rune{}
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
			out = append(out, r)
		default:
			out = append(out, '-')
		}
	}
	if len(out) == 0 {
		return "unversioned"
	}
	return string(out)
}
