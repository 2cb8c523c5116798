package vaultdb_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

// credsPerOp is fixed so that `make bench` can run every benchmark here
// with -benchtime 1x: the revocation benchmark needs 1,000 fresh leases
// per iteration, which b.N-scaling would multiply.
const credsPerOp = 300

// BenchmarkCreds issues readwrite credentials one after another through
// hstack's code path (vaultdb.Creds, what `hstack db creds` calls) and
// through the Vault API alone, on a real Vault and PostgreSQL. Each
// credential is a CREATE ROLE with a SCRAM verifier; Vault's PostgreSQL
// plugin serialises them per connection.
func BenchmarkCreds(b *testing.B) {
	e := newEnv(b)
	e.setup(b)
	ctx := context.Background()
	run := func(b *testing.B, issue func() error) {
		lat := make([]time.Duration, 0, credsPerOp*b.N)
		start := time.Now()
		for b.Loop() {
			for range credsPerOp {
				t0 := time.Now()
				if err := issue(); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
		}
		elapsed := time.Since(start)
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "creds/s")
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.StopTimer()
		if _, err := vaultdb.RevokeRole(ctx, e.vc, "database", "app"); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("hstack", func(b *testing.B) {
		run(b, func() error {
			_, err := vaultdb.Creds(ctx, e.vc, "database", "app", 0)
			return err
		})
	})
	b.Run("vault-api", func(b *testing.B) {
		run(b, func() error {
			s, err := e.vc.Logical().ReadWithContext(ctx, "database/creds/app")
			if err == nil && (s == nil || s.Data["password"] == nil) {
				err = fmt.Errorf("no credentials")
			}
			return err
		})
	})
}

// BenchmarkRevokePrefix1000 revokes 1,000 leases of one role with one
// prefix revocation (`hstack db revoke --role`); Vault drops each user
// with the role's revocation SQL before answering.
func BenchmarkRevokePrefix1000(b *testing.B) {
	e := newEnv(b)
	e.setup(b)
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		issue(b, e.vc, 1000)
		b.StartTimer()
		t0 := time.Now()
		n, err := vaultdb.RevokeRole(ctx, e.vc, "database", "app")
		if err != nil || n != 1000 {
			b.Fatalf("revoked %d, %v", n, err)
		}
		b.ReportMetric(1000/time.Since(t0).Seconds(), "leases/s")
	}
	var left int
	if err := e.admin.QueryRow(ctx, `SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-%'`).Scan(&left); err != nil {
		b.Fatal(err)
	}
	if left != 0 {
		b.Errorf("%d users left after the revocation", left)
	}
}

// issue creates n leases with a few requests in flight, as many
// instances starting at once would.
func issue(b *testing.B, vc *vaultapi.Client, n int) {
	b.Helper()
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for range n {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			_, err := vc.Logical().Read("database/creds/app")
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}
