package stackfile

import (
	"fmt"
	"regexp"
	"slices"
)

// MaxConfigKeyLen bounds an app's config key. Consul allows far longer
// keys, but each is also a field name in the JSON file the app reads.
const MaxConfigKeyLen = 128

var configKeyRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// ValidConfigKey explains why k cannot be a key of an app's config, or
// returns nil. A key is one segment of a Consul KV path and is written
// into a Nomad template, so it is limited to characters that need no
// quoting in either.
func ValidConfigKey(k string) error {
	switch {
	case len(k) > MaxConfigKeyLen:
		return fmt.Errorf("config key %q is longer than %d characters", k, MaxConfigKeyLen)
	case !configKeyRE.MatchString(k):
		return fmt.Errorf("config key %q must be letters, digits, _, . and - (not starting with . or -)", k)
	}
	return nil
}

func (d *decoder) validateConfig(a *App) {
	keys := make([]string, 0, len(a.Config))
	for k := range a.Config {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := ValidConfigKey(k); err != nil {
			d.errorf(at(a.Attrs, a.DeclRange, "config"), "Invalid config key",
				"App %q: %s. Each key becomes a Consul KV key under hstack/<stack>/%s/ and a field of the app's config.json.", a.Name, err, a.Name)
		}
	}
}
