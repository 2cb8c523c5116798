package snapshot

import (
	"context"
	"fmt"
	"io"
	"sort"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"
)

// Nomad snapshots Nomad's Raft state through /v1/operator/snapshot.
type Nomad struct {
	Client *nomadapi.Client
	// Stale is filled by Restore: the allocations it had Nomad replace.
	Stale []string
}

func (*Nomad) Name() string { return "nomad" }

func (n *Nomad) Save(ctx context.Context, w io.Writer) error {
	// The client checks the body against the Digest header as it is read.
	rc, err := n.Client.Operator().Snapshot((&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

// Restore replaces Nomad's state and then reconciles it with what the
// clients run. Clients trust their own record of an allocation over an
// older one from the servers, so an allocation the snapshot has running
// that has stopped since (or never ran on the clients of this cluster)
// would stay "running" on the servers and dead on its node. Those are
// stopped, which makes Nomad place replacements.
func (n *Nomad) Restore(ctx context.Context, r io.Reader) error {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	before, _, err := n.Client.Allocations().List(q)
	if err != nil {
		return err
	}
	if _, err := n.Client.Operator().SnapshotRestore(r, (&nomadapi.WriteOptions{}).WithContext(ctx)); err != nil {
		return err
	}
	after, _, err := n.Client.Allocations().List(q)
	if err != nil {
		return fmt.Errorf("restored; listing allocations to reconcile: %w", err)
	}
	n.Stale = StaleAllocs(before, after)
	for _, id := range n.Stale {
		if _, err := n.Client.Allocations().Stop(&nomadapi.Allocation{ID: id}, q); err != nil {
			return fmt.Errorf("restored; replacing allocation %s: %w", id, err)
		}
	}
	return nil
}

// StaleAllocs returns the allocations the restored state has live that
// the cluster, just before the restore, did not have running or pending:
// no client runs them.
func StaleAllocs(before, after []*nomadapi.AllocationListStub) []string {
	live := func(a *nomadapi.AllocationListStub) bool {
		return a.DesiredStatus == nomadapi.AllocDesiredStatusRun &&
			(a.ClientStatus == nomadapi.AllocClientStatusRunning || a.ClientStatus == nomadapi.AllocClientStatusPending)
	}
	running := map[string]bool{}
	for _, a := range before {
		if live(a) {
			running[a.ID] = true
		}
	}
	var stale []string
	for _, a := range after {
		if live(a) && !running[a.ID] {
			stale = append(stale, a.ID)
		}
	}
	sort.Strings(stale)
	return stale
}

// Consul snapshots Consul's Raft state through /v1/snapshot.
type Consul struct{ Client *consulapi.Client }

func (Consul) Name() string { return "consul" }

func (c Consul) Save(ctx context.Context, w io.Writer) error {
	rc, _, err := c.Client.Snapshot().Save((&consulapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

func (c Consul) Restore(ctx context.Context, r io.Reader) error {
	return c.Client.Snapshot().Restore((&consulapi.WriteOptions{}).WithContext(ctx), r)
}

// Vault snapshots Vault's integrated (Raft) storage through
// sys/storage/raft/snapshot. Vault on any other storage backend has no
// snapshot API; Save says so instead of writing an empty file.
type Vault struct{ Client *vaultapi.Client }

func (Vault) Name() string { return "vault" }

func (v Vault) Save(ctx context.Context, w io.Writer) error {
	if err := v.raft(ctx); err != nil {
		return err
	}
	return v.Client.Sys().RaftSnapshotWithContext(ctx, w)
}

// Restore is not forced: Vault refuses a snapshot of another cluster
// (other unseal keys), which would leave it sealed with keys nobody has.
func (v Vault) Restore(ctx context.Context, r io.Reader) error {
	return v.Client.Sys().RaftSnapshotRestoreWithContext(ctx, r, false)
}

func (v Vault) raft(ctx context.Context) error {
	// The autopilot state answers only on Raft storage; anything else
	// (inmem, file, consul) answers with an error.
	if _, err := v.Client.Sys().RaftAutopilotStateWithContext(ctx); err != nil {
		return fmt.Errorf("vault: the storage is not integrated storage (Raft), the only one with a snapshot API: %w", err)
	}
	return nil
}
