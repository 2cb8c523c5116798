package snapshot

import (
	"context"
	"fmt"
	"io"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"
)

// Nomad snapshots Nomad's Raft state through /v1/operator/snapshot.
type Nomad struct{ Client *nomadapi.Client }

func (Nomad) Name() string { return "nomad" }

func (n Nomad) Save(ctx context.Context, w io.Writer) error {
	// The client checks the body against the Digest header as it is read.
	rc, err := n.Client.Operator().Snapshot((&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(w, rc)
	return err
}

func (n Nomad) Restore(ctx context.Context, r io.Reader) error {
	_, err := n.Client.Operator().SnapshotRestore(r, (&nomadapi.WriteOptions{}).WithContext(ctx))
	return err
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
		return fmt.Errorf("Vault's storage is not integrated storage (Raft), which is the only one with a snapshot API: %w", err)
	}
	return nil
}
