package vaultdb

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// OutputReader reads the outputs of a Terraform working directory.
type OutputReader interface {
	Outputs(ctx context.Context, dir string) (map[string]json.RawMessage, error)
}

// Terraform reads outputs with `terraform output -json` through
// terraform-exec. The binary is found like the other tools (pinned cache,
// then PATH) unless ExecPath is set.
type Terraform struct {
	ExecPath string
}

// Outputs implements OutputReader.
func (t Terraform) Outputs(ctx context.Context, dir string) (map[string]json.RawMessage, error) {
	bin := t.ExecPath
	if bin == "" {
		var err error
		if bin, err = tools.Find("terraform"); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("terraform working directory: %w", err)
	}
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		return nil, err
	}
	outs, err := tf.Output(ctx)
	if err != nil {
		return nil, fmt.Errorf("terraform output in %s: %w", dir, err)
	}
	m := make(map[string]json.RawMessage, len(outs))
	for k, o := range outs {
		m[k] = o.Value
	}
	return m, nil
}

// EndpointFor says where Vault reaches db: its address and port, or the
// writer endpoint (and port) from the Terraform outputs the stack file
// names. Errors point at the stack file's from_terraform_output block.
func EndpointFor(ctx context.Context, st *stackfile.Stack, db *stackfile.Database, r OutputReader) (Endpoint, error) {
	tf := db.FromTerraform
	if tf == nil {
		return Endpoint{Host: db.Address, Port: db.Port}, nil
	}
	dir := st.Path(tf.Dir)
	outs, err := r.Outputs(ctx, dir)
	if err != nil {
		return Endpoint{}, fmt.Errorf("%s: database %q: %w", tf.Attrs.Of("dir", tf.DeclRange), db.Name, err)
	}
	get := func(attr, name string) (json.RawMessage, error) {
		v, ok := outs[name]
		if !ok {
			return nil, fmt.Errorf("%s: database %q: Terraform in %s has no output %q (run `terraform apply` there, or fix %s)",
				tf.Attrs.Of(attr, tf.DeclRange), db.Name, dir, name, attr)
		}
		return v, nil
	}
	raw, err := get("writer", tf.Writer)
	if err != nil {
		return Endpoint{}, err
	}
	var host string
	if err := json.Unmarshal(raw, &host); err != nil || host == "" {
		return Endpoint{}, fmt.Errorf("%s: database %q: output %q is %s, not a host name", tf.Attrs.Of("writer", tf.DeclRange), db.Name, tf.Writer, raw)
	}
	ep := Endpoint{Host: host, Port: 5432}
	if tf.Port != "" {
		raw, err := get("port", tf.Port)
		if err != nil {
			return Endpoint{}, err
		}
		// Terraform outputs a port as a number or, from some modules, a
		// string.
		var n json.Number
		var s string
		if json.Unmarshal(raw, &n) == nil {
			s = n.String()
		} else if json.Unmarshal(raw, &s) != nil {
			s = string(raw)
		}
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			return Endpoint{}, fmt.Errorf("%s: database %q: output %q is %s, not a port number", tf.Attrs.Of("port", tf.DeclRange), db.Name, tf.Port, raw)
		}
		ep.Port = p
	}
	return ep, nil
}
