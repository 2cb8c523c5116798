package catalog

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/hstack-dev/hstack/pkg/jobmeta"
)

// Instance is one registration of a service, as `hstack services` shows it.
type Instance struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	Node    string `json:"node"`
	Address string `json:"address"`
	Port    int    `json:"port"`
	// Health is the worst status of the instance's checks and its node's:
	// passing, warning or critical.
	Health string            `json:"health"`
	Tags   []string          `json:"tags"`
	Meta   map[string]string `json:"meta,omitempty"`
	// Canary is true for a canary of a Nomad deployment in progress.
	Canary bool `json:"canary"`
	// External is true for what hstack registers itself (databases).
	External bool `json:"external"`
	// AllocID is the Nomad allocation behind the instance, "" if none.
	AllocID string  `json:"alloc_id,omitempty"`
	Checks  []Check `json:"checks"`
}

// Check is one health check of an instance. Its output is left out: an
// HTTP check's output quotes the response, which is the app's to reveal.
type Check struct {
	Name   string `json:"name"`
	Status string `json:"status"`
}

// canaryTag is what pkg/render adds to canary_tags (and canary=true to
// canary_meta): Nomad registers canaries with those instead of the
// regular tags and meta, and switches them back on promotion.
const canaryTag = jobmeta.Canary

// Nomad names the Consul services it registers
// _nomad-task-<alloc ID>-<group or task>-<service>-<port>.
var nomadServiceID = regexp.MustCompile(`^_nomad-task-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})-`)

// Instances lists every instance of the named services, or of every
// service in the catalog when names is empty, sorted by service, node and
// address.
func Instances(ctx context.Context, c *consulapi.Client, names ...string) ([]Instance, error) {
	q := func() *consulapi.QueryOptions { return (&consulapi.QueryOptions{}).WithContext(ctx) }
	if len(names) == 0 {
		all, _, err := c.Catalog().Services(q())
		if err != nil {
			return nil, fmt.Errorf("listing services in Consul: %w", err)
		}
		for n := range all {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	var out []Instance
	for _, name := range names {
		entries, _, err := c.Health().Service(name, "", false, q())
		if err != nil {
			return nil, fmt.Errorf("reading %s from Consul: %w", name, err)
		}
		for _, e := range entries {
			out = append(out, instance(e))
		}
	}
	slices.SortStableFunc(out, func(a, b Instance) int {
		if c := strings.Compare(a.Service, b.Service); c != 0 {
			return c
		}
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		if c := strings.Compare(a.Address, b.Address); c != 0 {
			return c
		}
		if a.Port != b.Port {
			return a.Port - b.Port
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

func instance(e *consulapi.ServiceEntry) Instance {
	s := e.Service
	in := Instance{
		Service:  s.Service,
		ID:       s.ID,
		Node:     e.Node.Node,
		Address:  s.Address,
		Port:     s.Port,
		Health:   e.Checks.AggregatedStatus(),
		Tags:     append([]string{}, s.Tags...),
		Meta:     s.Meta,
		Canary:   slices.Contains(s.Tags, canaryTag) || s.Meta[canaryTag] == "true",
		External: s.Meta[MetaManagedBy] == ManagedBy,
		Checks:   []Check{},
	}
	if in.Address == "" {
		// An agent-registered service without an address is reached at
		// its node's.
		in.Address = e.Node.Address
	}
	if m := nomadServiceID.FindStringSubmatch(s.ID); m != nil {
		in.AllocID = m[1]
	}
	for _, ch := range e.Checks {
		in.Checks = append(in.Checks, Check{Name: ch.Name, Status: ch.Status})
	}
	return in
}
