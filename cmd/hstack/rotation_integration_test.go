package main

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/loadgen"
)

// Credential rotation under load: pingapp runs as a Nomad job, gets its
// PostgreSQL credentials from Vault through its workload identity and the
// job's template, and keeps answering while Vault's short TTLs force new
// credentials several times. It also checks the traps Nomad's template
// runner is known for: credentials fetched twice at start (nomad#15057),
// leases not renewed (nomad#15714), an extra re-render right after start
// (nomad#15307).
func TestCredentialRotationUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL and rotates credentials for two minutes")
	}
	const (
		defaultTTL = 10 * time.Second
		maxTTL     = 30 * time.Second
		loadFor    = 100 * time.Second // > 3 max_ttl: at least two rotations
	)
	s := devstacktest.Start(t)
	ex := newExample(t, s, edit{
		regexp.MustCompile(`(role "pingapp" \{\s*privilege\s*= "readwrite"\s*)default_ttl = "1h"\s*max_ttl\s*= "24h"`),
		fmt.Sprintf("${1}default_ttl = %q\n    max_ttl     = %q", defaultTTL.String(), maxTTL.String()),
		"shorten the pingapp role's TTLs",
	}, rollingEdits[0], rollingEdits[1])
	hstack, common := ex.hstack, ex.args
	env := append(ex.env, "VAULT_TOKEN="+s.VaultToken())
	hs := func(args ...string) string {
		t.Helper()
		out, code := runHstack(t, hstack, env, args...)
		if code != 0 {
			t.Fatalf("hstack %s exited %d:\n%s", args[0], code, out)
		}
		return out
	}
	hs(append([]string{"db", "setup"}, common...)...)
	// Rolling: this test is about credentials, and a canary's analysis
	// would need the monitoring jobs.
	hs(append(append([]string{"deploy"}, common...), "--strategy", "rolling", "pingapp")...)

	vault, err := s.VaultClient()
	if err != nil {
		t.Fatal(err)
	}
	leases := func() []string {
		sec, err := vault.Logical().List("sys/leases/lookup/database/creds/pingapp/")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		if sec != nil {
			for _, k := range sec.Data["keys"].([]any) {
				ids = append(ids, k.(string))
			}
		}
		return ids
	}
	if got := leases(); len(got) != 1 {
		t.Errorf("after start: %d leases for database/creds/pingapp, want exactly 1 (nomad#15057: fetched twice)", len(got))
	}

	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	entries, _, err := consul.Health().Service("pingapp", "", true, nil)
	if err != nil || len(entries) != 1 {
		t.Fatalf("pingapp in Consul: %d passing instances, %v", len(entries), err)
	}
	addr := fmt.Sprintf("http://%s:%d/ping", entries[0].Service.Address, entries[0].Service.Port)

	pg, err := pgx.Connect(context.Background(), s.SuperuserURL())
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close(context.Background())
	// Who pingapp is logged in as, sampled every second: each new user is
	// a rotation.
	firstSeen := map[string]time.Duration{}
	start := time.Now()
	run, err := loadgen.Start(context.Background(), loadgen.Config{Targets: []string{addr}, Rate: 50, ExpectStatus: 200, ExpectBody: "pong"})
	if err != nil {
		t.Fatal(err)
	}
	for time.Since(start) < loadFor {
		rows, err := pg.Query(context.Background(),
			`SELECT DISTINCT usename FROM pg_stat_activity WHERE usename LIKE 'v-%pingapp%'`)
		if err != nil {
			t.Fatal(err)
		}
		users, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if _, ok := firstSeen[u]; !ok {
				firstSeen[u] = time.Since(start).Round(time.Second)
			}
		}
		time.Sleep(time.Second)
	}
	res := run.Stop()
	t.Logf("load on pingapp during rotation: %s", res)
	type seen struct {
		at   time.Duration
		user string
	}
	var order []seen
	for u, at := range firstSeen {
		order = append(order, seen{at, u})
	}
	sort.Slice(order, func(i, j int) bool { return order[i].at < order[j].at })
	var lines []string
	for _, o := range order {
		lines = append(lines, fmt.Sprintf("%v %s", o.at, redactUser(o.user)))
	}
	t.Logf("database users pingapp logged in as (first seen):\n  %s", strings.Join(lines, "\n  "))

	if res.Failed != 0 {
		t.Errorf("%d of %d requests failed across credential rotations", res.Failed, res.OK+res.Failed)
	}
	if res.OK < int64(loadFor.Seconds())*40 {
		t.Errorf("only %d successful requests in %v", res.OK, loadFor)
	}
	if len(order) < 3 {
		t.Errorf("pingapp used %d database users in %v, want at least 3 (two rotations) with max_ttl %v", len(order), loadFor, maxTTL)
	}
	// Renewal: without it (nomad#15714) every credential would be replaced
	// within default_ttl; renewed, a credential lives until near max_ttl.
	// The first user was created when the task started, before sampling.
	for i := 2; i < len(order); i++ {
		if gap := order[i].at - order[i-1].at; gap < 2*defaultTTL {
			t.Errorf("credentials replaced after %v (users %d and %d), want about max_ttl %v: the lease was not renewed, or a spurious re-render (nomad#15307)",
				gap, i, i+1, maxTTL)
		}
	}
}

// redactUser shortens a database user name to what tells users apart:
// Vault's generated names share a long prefix.
func redactUser(u string) string {
	if len(u) > 24 {
		return u[:10] + "…" + u[len(u)-12:]
	}
	return u
}
