package appconfig

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// Actions of a Change.
const (
	Written = "written"
	Deleted = "deleted"
)

// Change is one thing Sync did. Values are never reported: configuration
// is not meant to hold secrets, but nothing stops someone from putting one
// there.
type Change struct {
	App     string `json:"app"`
	Version string `json:"version"`
	// Key is the config key written or deleted; "" when a whole version
	// was deleted.
	Key    string `json:"key,omitempty"`
	Action string `json:"action"`
}

// Syncer writes configuration to Consul KV and asks Nomad which versions
// its jobs still refer to.
type Syncer struct {
	Consul *consulapi.Client
	Nomad  *nomadapi.Client
}

// Sync makes KV hold, for every app of st, the version of its configuration
// the stack file declares, and nothing under hstack/<stack>/ that neither
// the stack file nor any job version Nomad keeps refers to. It is
// idempotent: a second run changes nothing. Folders under the stack's
// prefix that do not look like hstack's (<app>/<16 hex digits>/<key>) are
// left alone.
func (s *Syncer) Sync(ctx context.Context, st *stackfile.Stack) ([]Change, error) {
	var changes []Change
	for _, app := range st.Apps {
		c, err := s.writeApp(ctx, st.Name, app)
		changes = append(changes, c...)
		if err != nil {
			return changes, err
		}
	}
	c, err := s.collect(ctx, st)
	return append(changes, c...), err
}

func (s *Syncer) writeApp(ctx context.Context, stack string, app *stackfile.App) ([]Change, error) {
	version := Checksum(app.Config)
	if version == "" {
		return nil, nil
	}
	for k := range app.Config {
		if err := ValidKey(k); err != nil {
			return nil, fmt.Errorf("app %q: %w", app.Name, err)
		}
	}
	kv := s.Consul.KV()
	prefix := VersionPrefix(stack, app.Name, version)
	pairs, _, err := kv.List(prefix, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading %s from Consul KV: %w", prefix, err)
	}
	have := map[string][]byte{}
	for _, p := range pairs {
		have[strings.TrimPrefix(p.Key, prefix)] = p.Value
	}
	var changes []Change
	for _, k := range slices.Sorted(maps.Keys(app.Config)) {
		v := []byte(app.Config[k])
		if old, ok := have[k]; ok && string(old) == string(v) {
			continue
		}
		if _, err := kv.Put(&consulapi.KVPair{Key: prefix + k, Value: v}, (&consulapi.WriteOptions{}).WithContext(ctx)); err != nil {
			return changes, fmt.Errorf("writing %s%s to Consul KV: %w", prefix, k, err)
		}
		changes = append(changes, Change{App: app.Name, Version: version, Key: k, Action: Written})
	}
	// A version is immutable; anything else under it was put there by
	// hand and would never be read (the template names its keys).
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := app.Config[k]; ok {
			continue
		}
		if _, err := kv.Delete(prefix+k, (&consulapi.WriteOptions{}).WithContext(ctx)); err != nil {
			return changes, fmt.Errorf("deleting %s%s from Consul KV: %w", prefix, k, err)
		}
		changes = append(changes, Change{App: app.Name, Version: version, Key: k, Action: Deleted})
	}
	return changes, nil
}

var versionRE = regexp.MustCompile(`^[0-9a-f]{16}$`)

// collect deletes the versions nothing refers to any more.
func (s *Syncer) collect(ctx context.Context, st *stackfile.Stack) ([]Change, error) {
	root := StackPrefix(st.Name)
	keys, _, err := s.Consul.KV().Keys(root, "", (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing %s in Consul KV: %w", root, err)
	}
	found := map[string]map[string]bool{} // app -> versions in KV
	for _, k := range keys {
		parts := strings.SplitN(strings.TrimPrefix(k, root), "/", 3)
		if len(parts) != 3 || parts[0] == "" || parts[2] == "" || !versionRE.MatchString(parts[1]) {
			continue
		}
		if found[parts[0]] == nil {
			found[parts[0]] = map[string]bool{}
		}
		found[parts[0]][parts[1]] = true
	}
	var changes []Change
	for _, app := range slices.Sorted(maps.Keys(found)) {
		keep, err := s.referenced(ctx, st, app)
		if err != nil {
			return changes, err
		}
		if a := st.App(app); a != nil {
			keep[Checksum(a.Config)] = true
		}
		for _, v := range slices.Sorted(maps.Keys(found[app])) {
			if keep[v] {
				continue
			}
			if _, err := s.Consul.KV().DeleteTree(VersionPrefix(st.Name, app, v), (&consulapi.WriteOptions{}).WithContext(ctx)); err != nil {
				return changes, fmt.Errorf("deleting %s from Consul KV: %w", VersionPrefix(st.Name, app, v), err)
			}
			changes = append(changes, Change{App: app, Version: v, Action: Deleted})
		}
	}
	return changes, nil
}

// referenced returns the config versions of every version of app's job
// that Nomad keeps: the ones a rollback can return to.
func (s *Syncer) referenced(ctx context.Context, st *stackfile.Stack, app string) (map[string]bool, error) {
	q := (&nomadapi.QueryOptions{Namespace: st.Namespace, Region: st.Region}).WithContext(ctx)
	jobs, _, _, err := s.Nomad.Jobs().Versions(app, false, q)
	keep := map[string]bool{}
	if err != nil {
		var ue nomadapi.UnexpectedResponseError
		if errors.As(err, &ue) && ue.StatusCode() == 404 {
			return keep, nil
		}
		return nil, fmt.Errorf("reading the versions of job %q from Nomad: %w", app, err)
	}
	for _, j := range jobs {
		if v := j.Meta[MetaKey]; v != "" {
			keep[v] = true
		}
	}
	return keep, nil
}

// Versions lists the versions of app's configuration present in KV,
// sorted; for tests and diagnostics.
func Versions(ctx context.Context, c *consulapi.Client, stack, app string) ([]string, error) {
	keys, _, err := c.KV().Keys(AppPrefix(stack, app), "/", (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, k := range keys {
		v := strings.TrimSuffix(strings.TrimPrefix(k, AppPrefix(stack, app)), "/")
		if versionRE.MatchString(v) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}
