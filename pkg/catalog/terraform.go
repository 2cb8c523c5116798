package catalog

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hstack-dev/hstack/pkg/tools"
)

// Terraform reads outputs with the terraform binary pkg/tools finds (the
// pinned one, or terraform/tofu on PATH), from the state the working
// directory is configured for. It needs `terraform init` to have run there,
// as any `terraform output` does.
type Terraform struct {
	// Bin overrides the binary; "" finds it.
	Bin string
}

// Outputs implements OutputReader.
func (t Terraform) Outputs(ctx context.Context, dir string) (map[string]json.RawMessage, error) {
	bin := t.Bin
	if bin == "" {
		var err error
		if bin, err = tools.Find("terraform"); err != nil {
			return nil, err
		}
	}
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		return nil, err
	}
	outs, err := tf.Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("terraform output: %w", err)
	}
	m := make(map[string]json.RawMessage, len(outs))
	for name, o := range outs {
		m[name] = o.Value
	}
	return m, nil
}
