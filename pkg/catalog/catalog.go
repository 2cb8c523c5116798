// Package catalog registers the services a stack uses but Nomad does not
// run, its databases, in Consul, so that apps and Prometheus find them by
// name (<database>.service.consul) like everything else.
//
// # Who runs the health check
//
// A Consul check needs an agent to run it. hstack registers each external
// service with the agent it talks to (CONSUL_HTTP_ADDR) and a TCP check on
// the endpoint, which that agent runs. The service belongs to that agent's
// node: if the node leaves the cluster the registration goes with it until
// the next sync, and two syncs through different agents would leave two
// registrations (Sync reports any it finds on other nodes). HashiCorp's
// recommended alternative, a catalog registration on an "external node"
// whose checks consul-esm runs, survives node loss but needs consul-esm
// deployed; docs/services.md weighs the two.
//
// # Ownership
//
// Everything Sync registers carries meta managed-by=hstack and
// hstack-stack=<stack>. Sync removes exactly those registrations of the
// stack that the stack file no longer declares and touches nothing else.
package catalog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

// Meta keys on every registration, and the values hstack sets.
const (
	MetaManagedBy = "managed-by"
	ManagedBy     = "hstack"
	MetaStack     = "hstack-stack"
	MetaDatabase  = "hstack-database"
	// MetaEndpoint is "writer" or "reader".
	MetaEndpoint = "hstack-endpoint"
	// MetaSpec is a digest of the registration, so an unchanged one is
	// left alone: re-registering would restart its check as critical.
	MetaSpec = "hstack-spec"
)

// Endpoints of a database.
const (
	Writer = "writer"
	Reader = "reader"
)

// Check timing: often enough that a failover shows within seconds, rare
// enough to be nothing to the database.
const (
	CheckInterval = 10 * time.Second
	CheckTimeout  = 2 * time.Second
)

// Service is one external service to register.
type Service struct {
	// ID is unique per stack on the agent: hstack-<stack>-<name>.
	ID string `json:"id"`
	// Name is the database's name for its writer endpoint (what
	// pkg/render points apps at) and <name>-reader for its reader.
	Name     string   `json:"name"`
	Address  string   `json:"address"`
	Port     int      `json:"port"`
	Tags     []string `json:"tags"`
	Database string   `json:"database"`
	Endpoint string   `json:"endpoint"`
}

// ErrInvalid marks errors that come from the stack file itself rather
// than from Terraform or Consul.
var ErrInvalid = errors.New("invalid stack file")

// Desired lists the external services st declares. Databases with a
// from_terraform_output block get their endpoints from tf (see
// tfoutputs.EndpointsFor), which may be nil when no database needs it.
func Desired(ctx context.Context, st *stackfile.Stack, tf tfoutputs.Reader) ([]Service, error) {
	var out []Service
	for _, db := range st.Databases {
		eps, err := tfoutputs.EndpointsFor(ctx, st, db, tf)
		if err != nil {
			return nil, err
		}
		add := func(name, host, endpoint string) error {
			if !stackfile.IsDNSLabel(name) {
				return fmt.Errorf("%w: database %q: Consul service name %q is not a DNS label (lowercase letters, digits, -; at most 63), so %s.service.consul could not resolve", ErrInvalid, db.Name, name, name)
			}
			out = append(out, Service{
				ID: "hstack-" + st.Name + "-" + name, Name: name, Address: host, Port: eps.Port,
				Tags: []string{"postgresql", endpoint}, Database: db.Name, Endpoint: endpoint,
			})
			return nil
		}
		if err := add(db.Name, eps.Writer, Writer); err != nil {
			return nil, err
		}
		if eps.Reader != "" {
			if err := add(db.Name+"-"+Reader, eps.Reader, Reader); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// Actions of a Change.
const (
	Registered   = "registered"
	Updated      = "updated"
	Deregistered = "deregistered"
)

// Change is one thing Sync did.
type Change struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	Action  string `json:"action"`
	Address string `json:"address,omitempty"`
	Port    int    `json:"port,omitempty"`
}

// Elsewhere is a registration of this stack's that lives on another
// agent's node: Sync cannot remove it through its own agent.
type Elsewhere struct {
	Service string `json:"service"`
	ID      string `json:"id"`
	Node    string `json:"node"`
}

// Result is what Sync did and found.
type Result struct {
	Changes   []Change    `json:"changes"`
	Elsewhere []Elsewhere `json:"elsewhere,omitempty"`
}

// Sync makes the agent's registrations of stack exactly want: registers
// the missing, re-registers the changed, deregisters the ones no longer
// wanted. An unchanged registration is not touched, so its check keeps
// its status.
func Sync(ctx context.Context, c *consulapi.Client, stack string, want []Service) (Result, error) {
	var res Result
	agent := c.Agent()
	filter := fmt.Sprintf("Meta[%q] == %q and Meta[%q] == %q", MetaManagedBy, ManagedBy, MetaStack, stack)
	have, err := agent.ServicesWithFilterOpts(filter, (&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return res, fmt.Errorf("listing the Consul agent's services: %w", err)
	}
	wanted := map[string]bool{}
	for _, s := range want {
		wanted[s.ID] = true
		reg := registration(stack, s)
		action := Registered
		if old, ok := have[s.ID]; ok {
			if old.Meta[MetaSpec] == reg.Meta[MetaSpec] {
				continue
			}
			action = Updated
		}
		opts := consulapi.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(ctx)
		if err := agent.ServiceRegisterOpts(reg, opts); err != nil {
			return res, fmt.Errorf("registering %s in Consul: %w", s.Name, err)
		}
		res.Changes = append(res.Changes, Change{Service: s.Name, ID: s.ID, Action: action, Address: s.Address, Port: s.Port})
	}
	ids := make([]string, 0, len(have))
	for id := range have {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if wanted[id] {
			continue
		}
		if err := agent.ServiceDeregisterOpts(id, (&consulapi.QueryOptions{}).WithContext(ctx)); err != nil {
			return res, fmt.Errorf("deregistering %s from Consul: %w", id, err)
		}
		res.Changes = append(res.Changes, Change{Service: have[id].Service, ID: id, Action: Deregistered})
	}
	res.Elsewhere, err = elsewhere(ctx, c, stack, want)
	return res, err
}

// elsewhere finds registrations of the wanted names, made by hstack for
// this stack, on nodes other than the agent's own.
func elsewhere(ctx context.Context, c *consulapi.Client, stack string, want []Service) ([]Elsewhere, error) {
	node, err := c.Agent().NodeName()
	if err != nil {
		return nil, fmt.Errorf("asking the Consul agent for its node name: %w", err)
	}
	var out []Elsewhere
	for _, s := range want {
		q := (&consulapi.QueryOptions{
			Filter: fmt.Sprintf("ServiceMeta[%q] == %q and ServiceMeta[%q] == %q", MetaManagedBy, ManagedBy, MetaStack, stack),
		}).WithContext(ctx)
		entries, _, err := c.Catalog().Service(s.Name, "", q)
		if err != nil {
			return nil, fmt.Errorf("reading %s from the Consul catalog: %w", s.Name, err)
		}
		for _, e := range entries {
			if e.Node != node {
				out = append(out, Elsewhere{Service: e.ServiceName, ID: e.ServiceID, Node: e.Node})
			}
		}
	}
	return out, nil
}

func registration(stack string, s Service) *consulapi.AgentServiceRegistration {
	reg := &consulapi.AgentServiceRegistration{
		ID:      s.ID,
		Name:    s.Name,
		Address: s.Address,
		Port:    s.Port,
		Tags:    append([]string(nil), s.Tags...),
		Meta: map[string]string{
			MetaManagedBy: ManagedBy,
			MetaStack:     stack,
			MetaDatabase:  s.Database,
			MetaEndpoint:  s.Endpoint,
		},
		Check: &consulapi.AgentServiceCheck{
			Name:     s.Name + " tcp",
			TCP:      net.JoinHostPort(s.Address, strconv.Itoa(s.Port)),
			Interval: CheckInterval.String(),
			Timeout:  CheckTimeout.String(),
		},
	}
	// Everything that goes into the registration, in a fixed order.
	b, _ := json.Marshal([]any{reg.Name, reg.Address, reg.Port, reg.Tags, reg.Meta, reg.Check.Name, reg.Check.TCP, reg.Check.Interval, reg.Check.Timeout})
	sum := sha256.Sum256(b)
	reg.Meta[MetaSpec] = hex.EncodeToString(sum[:8])
	return reg
}
