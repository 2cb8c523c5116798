package tfoutputs

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Names of the Terraform outputs day-2 operations read, as the
// environments' outputs roots (terraform/envs/*) declare them: the
// snapshot bucket (backups module), the client fleet's Auto Scaling group
// and its bounds (clients module) and the region both are in.
const (
	OutputSnapshotBucket = "snapshot_bucket"
	OutputClientASGName  = "client_asg_name"
	OutputClientASGMin   = "client_asg_min_size"
	OutputClientASGMax   = "client_asg_max_size"
	OutputRegion         = "aws_region"
)

// Ops is what the operations jobs need from Terraform. Empty fields are
// outputs the directory does not have (yet): the jobs that need them are
// then not rendered.
type Ops struct {
	SnapshotBucket       string
	ClientASGName        string
	ClientMin, ClientMax int
	// Region is the AWS region of the environment.
	Region string
}

// OpsFrom reads the operations outputs of the Terraform working directory.
func OpsFrom(ctx context.Context, dir string, r Reader) (Ops, error) {
	outs, err := r.Outputs(ctx, dir)
	if err != nil {
		return Ops{}, fmt.Errorf("reading Terraform outputs in %s: %w", dir, err)
	}
	str := func(name string) (string, error) {
		raw, ok := outs[name]
		if !ok {
			return "", nil
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, nil
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String(), nil
		}
		return "", fmt.Errorf("Terraform output %q in %s is %s, neither a string nor a number", name, dir, raw)
	}
	var o Ops
	if o.SnapshotBucket, err = str(OutputSnapshotBucket); err != nil {
		return Ops{}, err
	}
	if o.ClientASGName, err = str(OutputClientASGName); err != nil {
		return Ops{}, err
	}
	if o.Region, err = str(OutputRegion); err != nil {
		return Ops{}, err
	}
	if o.ClientASGName == "" {
		return o, nil
	}
	// The aws-asg target must be told where the group is.
	if o.Region == "" {
		return Ops{}, fmt.Errorf("Terraform in %s has %s but no output %q: the autoscaler cannot find the group", dir, OutputClientASGName, OutputRegion)
	}
	for _, b := range []struct {
		name string
		to   *int
	}{{OutputClientASGMin, &o.ClientMin}, {OutputClientASGMax, &o.ClientMax}} {
		s, err := str(b.name)
		if err != nil {
			return Ops{}, err
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			return Ops{}, fmt.Errorf("Terraform in %s has %s but output %q is %q, not a count", dir, OutputClientASGName, b.name, s)
		}
		*b.to = n
	}
	if o.ClientMin > o.ClientMax {
		return Ops{}, fmt.Errorf("Terraform outputs in %s: %s %d is above %s %d", dir, OutputClientASGMin, o.ClientMin, OutputClientASGMax, o.ClientMax)
	}
	return o, nil
}
