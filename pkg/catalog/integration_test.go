package catalog

import (
	"context"
	"fmt"
	"net"
	"slices"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
)

// TestSyncAgainstConsul registers a stack's databases with a real Consul
// agent: the dev stack's PostgreSQL passes its TCP check and resolves as
// main.service.consul, a database nobody listens for fails its check, a
// second sync changes nothing, and a database dropped from the stack file
// is deregistered while a service hstack did not register stays.
func TestSyncAgainstConsul(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	cc, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// Someone else's registration of a database, with the same tags: sync
	// must never touch it.
	foreign := &consulapi.AgentServiceRegistration{ID: "legacy-db", Name: "legacy-db", Address: "127.0.0.1", Port: s.Ports.Postgres,
		Tags: []string{"postgresql"}, Meta: map[string]string{MetaManagedBy: "terraform"}}
	if err := cc.Agent().ServiceRegister(foreign); err != nil {
		t.Fatal(err)
	}

	closed := closedPort(t)
	stack := func(dbs string) []Service {
		t.Helper()
		want, err := Desired(ctx, parse(t, "stack \"shop\" {}\n"+dbs+appBlock), nil)
		if err != nil {
			t.Fatal(err)
		}
		return want
	}
	mainDB := fmt.Sprintf("database \"main\" {\n  address = \"127.0.0.1\"\n  port = %d\n}\n", s.Ports.Postgres)
	reportsDB := fmt.Sprintf("database \"reports\" {\n  address = \"127.0.0.1\"\n  port = %d\n}\n", closed)

	res, err := Sync(ctx, cc, "shop", stack(mainDB+reportsDB))
	if err != nil {
		t.Fatal(err)
	}
	if got := actions(res); !slices.Equal(got, []string{"registered main", "registered reports"}) {
		t.Errorf("first sync: %v", got)
	}
	devstacktest.Eventually(t, time.Minute, "main passing, reports critical", func() error {
		if err := wantHealth(cc, "main", consulapi.HealthPassing); err != nil {
			return err
		}
		return wantHealth(cc, "reports", consulapi.HealthCritical)
	})

	t.Run("discoverable by name in Consul DNS", func(t *testing.T) {
		r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "udp", fmt.Sprintf("127.0.0.1:%d", s.Ports.ConsulDNS))
		}}
		addrs, err := r.LookupHost(ctx, "main.service.consul")
		if err != nil || !slices.Equal(addrs, []string{"127.0.0.1"}) {
			t.Errorf("main.service.consul = %v, %v", addrs, err)
		}
		// DNS only serves passing instances.
		if addrs, err := r.LookupHost(ctx, "reports.service.consul"); err == nil {
			t.Errorf("reports.service.consul resolved to %v although its check fails", addrs)
		}
	})

	t.Run("second sync changes nothing", func(t *testing.T) {
		res, err := Sync(ctx, cc, "shop", stack(mainDB+reportsDB))
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Changes) != 0 || len(res.Elsewhere) != 0 {
			t.Errorf("second sync: %+v", res)
		}
		// Not re-registered, so the check kept its status.
		if err := wantHealth(cc, "main", consulapi.HealthPassing); err != nil {
			t.Error(err)
		}
	})

	t.Run("a moved endpoint is updated", func(t *testing.T) {
		moved := fmt.Sprintf("database \"reports\" {\n  address = \"127.0.0.2\"\n  port = %d\n}\n", closed)
		res, err := Sync(ctx, cc, "shop", stack(mainDB+moved))
		if err != nil {
			t.Fatal(err)
		}
		if got := actions(res); !slices.Equal(got, []string{"updated reports"}) {
			t.Errorf("sync after moving reports: %v", got)
		}
		svcs, _, err := cc.Catalog().Service("reports", "", nil)
		if err != nil || len(svcs) != 1 || svcs[0].ServiceAddress != "127.0.0.2" {
			t.Errorf("reports in the catalog: %+v, %v", svcs, err)
		}
	})

	t.Run("removed from the stack file, removed from Consul", func(t *testing.T) {
		res, err := Sync(ctx, cc, "shop", stack(mainDB))
		if err != nil {
			t.Fatal(err)
		}
		if got := actions(res); !slices.Equal(got, []string{"deregistered reports"}) {
			t.Errorf("sync without reports: %v", got)
		}
		res, err = Sync(ctx, cc, "shop", stack(""))
		if err != nil {
			t.Fatal(err)
		}
		if got := actions(res); !slices.Equal(got, []string{"deregistered main"}) {
			t.Errorf("sync without databases: %v", got)
		}
		all, _, err := cc.Catalog().Services(nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, gone := range []string{"main", "reports"} {
			if _, ok := all[gone]; ok {
				t.Errorf("%s still in the catalog: %v", gone, all)
			}
		}
		if _, ok := all["legacy-db"]; !ok {
			t.Errorf("sync removed a service it did not register: %v", all)
		}
	})

	t.Run("another stack's registrations are not this stack's", func(t *testing.T) {
		if _, err := Sync(ctx, cc, "other", stack(mainDB)); err != nil {
			t.Fatal(err)
		}
		res, err := Sync(ctx, cc, "shop", nil)
		if err != nil || len(res.Changes) != 0 {
			t.Errorf("sync of shop touched stack other: %+v, %v", res, err)
		}
	})
}

func actions(r Result) []string {
	var out []string
	for _, c := range r.Changes {
		out = append(out, c.Action+" "+c.Service)
	}
	return out
}

func wantHealth(cc *consulapi.Client, name, status string) error {
	entries, _, err := cc.Health().Service(name, "", false, nil)
	if err != nil {
		return err
	}
	if len(entries) != 1 {
		return fmt.Errorf("%d instances of %s", len(entries), name)
	}
	if got := entries[0].Checks.AggregatedStatus(); got != status {
		return fmt.Errorf("%s is %s, want %s", name, got, status)
	}
	return nil
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close() // it only picked a free port
	return port
}
