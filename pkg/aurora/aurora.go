// Package aurora takes manual snapshots of an Aurora PostgreSQL cluster
// through the AWS SDK for Go v2. Automated backups and their retention are
// Terraform's (the database module); a manual snapshot is kept until it is
// deleted, e.g. before a risky migration or an engine upgrade.
//
// Not verified against AWS: there is no AWS account here. The request the
// SDK builds is tested against a fake transport.
package aurora

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// API is the part of the RDS client a snapshot needs.
type API interface {
	CreateDBClusterSnapshot(ctx context.Context, in *rds.CreateDBClusterSnapshotInput, opts ...func(*rds.Options)) (*rds.CreateDBClusterSnapshotOutput, error)
	DescribeDBClusterSnapshots(ctx context.Context, in *rds.DescribeDBClusterSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBClusterSnapshotsOutput, error)
}

// NewClient builds an RDS client from the standard credential chain
// (environment, shared config and credentials files, SSO, web identity,
// ECS/EC2 roles) and region (AWS_REGION, the profile); region overrides it
// when set.
func NewClient(ctx context.Context, region string) (*rds.Client, error) {
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, err
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: set AWS_REGION or pass --region")
	}
	return rds.NewFromConfig(cfg), nil
}

// Request is a manual cluster snapshot to take.
type Request struct {
	ClusterID string
	// SnapshotID defaults to DefaultSnapshotID.
	SnapshotID string
	Tags       map[string]string
}

// Result is the snapshot RDS accepted.
type Result struct {
	SnapshotID  string `json:"snapshot_id"`
	SnapshotARN string `json:"snapshot_arn,omitempty"`
	ClusterID   string `json:"cluster_id"`
	Status      string `json:"status"`
}

var snapshotIDRe = regexp.MustCompile(`^[A-Za-z](?:[A-Za-z0-9]|-(?:[A-Za-z0-9]))*$`)

// DefaultSnapshotID names a manual snapshot after the stack, the database
// and the time: shop-main-manual-20261201t221500z (RDS lower-cases them).
func DefaultSnapshotID(stack, db string, t time.Time) string {
	return strings.ToLower(fmt.Sprintf("%s-%s-manual-%s", stack, db, t.UTC().Format("20060102t150405z")))
}

// CheckSnapshotID applies RDS's rules for a snapshot identifier, so that a
// bad one is a usage error here rather than an API error after the call.
func CheckSnapshotID(id string) error {
	if len(id) == 0 || len(id) > 255 || !snapshotIDRe.MatchString(id) {
		return fmt.Errorf("snapshot identifier %q: 1-255 letters, digits and single hyphens, starting with a letter and not ending with a hyphen", id)
	}
	return nil
}

// Snapshot asks RDS for a manual snapshot of the cluster. With wait it
// then polls until the snapshot is available or ctx ends.
func Snapshot(ctx context.Context, api API, req Request, wait time.Duration) (Result, error) {
	if req.ClusterID == "" {
		return Result{}, errors.New("no cluster identifier")
	}
	if err := CheckSnapshotID(req.SnapshotID); err != nil {
		return Result{}, err
	}
	in := &rds.CreateDBClusterSnapshotInput{
		DBClusterIdentifier:         aws.String(req.ClusterID),
		DBClusterSnapshotIdentifier: aws.String(req.SnapshotID),
		Tags:                        tags(req.Tags),
	}
	out, err := api.CreateDBClusterSnapshot(ctx, in)
	if err != nil {
		return Result{}, err
	}
	res := Result{SnapshotID: req.SnapshotID, ClusterID: req.ClusterID}
	if s := out.DBClusterSnapshot; s != nil {
		res.SnapshotARN, res.Status = aws.ToString(s.DBClusterSnapshotArn), aws.ToString(s.Status)
	}
	if wait > 0 {
		w := rds.NewDBClusterSnapshotAvailableWaiter(api)
		d, err := w.WaitForOutput(ctx, &rds.DescribeDBClusterSnapshotsInput{DBClusterSnapshotIdentifier: aws.String(req.SnapshotID)}, wait)
		if err != nil {
			return res, fmt.Errorf("snapshot %s requested, not yet available: %w", req.SnapshotID, err)
		}
		if len(d.DBClusterSnapshots) > 0 {
			res.Status = aws.ToString(d.DBClusterSnapshots[0].Status)
		}
	}
	return res, nil
}

// tags in key order, so requests are deterministic.
func tags(m map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}
