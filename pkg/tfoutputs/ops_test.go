package tfoutputs_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

func TestOpsFrom(t *testing.T) {
	ctx := context.Background()
	all := fakeOutputs{"snapshot_bucket": `"shop-prod-snapshots"`, "client_asg_name": `"shop-prod-clients"`, "client_asg_min_size": `3`, "client_asg_max_size": `"12"`, "aws_region": `"eu-west-1"`}
	o, err := tfoutputs.OpsFrom(ctx, "terraform/envs/prod", all)
	if err != nil || o != (tfoutputs.Ops{SnapshotBucket: "shop-prod-snapshots", ClientASGName: "shop-prod-clients", ClientMin: 3, ClientMax: 12, Region: "eu-west-1"}) {
		t.Errorf("%+v %v", o, err)
	}
	if o, err := tfoutputs.OpsFrom(ctx, "d", fakeOutputs{}); err != nil || o != (tfoutputs.Ops{}) {
		t.Errorf("no outputs: %+v %v", o, err)
	}
	// A bucket without a fleet: only the snapshot job has what it needs.
	if o, err := tfoutputs.OpsFrom(ctx, "d", fakeOutputs{"snapshot_bucket": `"b"`}); err != nil || o != (tfoutputs.Ops{SnapshotBucket: "b"}) {
		t.Errorf("bucket only: %+v %v", o, err)
	}
	for _, bad := range []fakeOutputs{
		all.with("client_asg_min_size", `"three"`),
		all.with("client_asg_max_size", ""),
		all.with("client_asg_min_size", `20`),
		all.with("snapshot_bucket", `["a"]`),
		all.with("aws_region", ""),
	} {
		if _, err := tfoutputs.OpsFrom(ctx, "d", bad); err == nil || !strings.Contains(err.Error(), "d") {
			t.Errorf("%v accepted: %v", bad, err)
		}
	}
	if _, err := tfoutputs.OpsFrom(ctx, "d", fakeOutputs(nil)); err == nil {
		t.Error("a directory without state")
	}
}
