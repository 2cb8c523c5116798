// Package tfoutputs reads the Terraform outputs a stack file's
// from_terraform_output block names: the endpoints of a database that
// Terraform built. pkg/catalog registers them in Consul and pkg/vaultdb
// points Vault's connection at the writer; both read them here, so they
// agree and fail with the same messages.
package tfoutputs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// DefaultPort is the port of a database whose from_terraform_output block
// names no port output: PostgreSQL's.
const DefaultPort = 5432

// Reader reads the outputs of a Terraform working directory, each as its
// JSON value.
type Reader interface {
	Outputs(ctx context.Context, dir string) (map[string]json.RawMessage, error)
}

// Terraform reads outputs with `terraform output -json` through
// terraform-exec, from the state the working directory is configured for.
// It needs `terraform init` to have run there, as any `terraform output`
// does. The binary is found like the other tools (the pinned one, then
// terraform or tofu on PATH) unless ExecPath is set.
type Terraform struct {
	// ExecPath overrides the binary; "" finds it.
	ExecPath string
}

// Output is one Terraform output: its JSON value and whether Terraform
// marks it sensitive (to be shown only when asked for by name).
type Output struct {
	Value     json.RawMessage
	Sensitive bool
}

// Outputs implements Reader. Its errors do not repeat dir: EndpointsFor
// names it, with the stack file position it comes from.
func (t Terraform) Outputs(ctx context.Context, dir string) (map[string]json.RawMessage, error) {
	outs, err := t.Read(ctx, dir)
	if err != nil {
		return nil, err
	}
	m := make(map[string]json.RawMessage, len(outs))
	for name, o := range outs {
		m[name] = o.Value
	}
	return m, nil
}

// Read returns the outputs of dir with their sensitivity, as Outputs does.
func (t Terraform) Read(ctx context.Context, dir string) (map[string]Output, error) {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, errors.New("the directory does not exist")
	case err != nil:
		return nil, err
	case !fi.IsDir():
		return nil, errors.New("not a directory")
	}
	bin := t.ExecPath
	if bin == "" {
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
	m := make(map[string]Output, len(outs))
	for name, o := range outs {
		m[name] = Output{Value: o.Value, Sensitive: o.Sensitive}
	}
	return m, nil
}

// Endpoints of a database.
type Endpoints struct {
	// Writer is the host name (or address) of the read-write endpoint.
	Writer string
	// Reader is the read-only endpoint's, "" when the database has none.
	Reader string
	// Port is both endpoints' port.
	Port int
}

// EndpointsFor says where db is: its address and port when the stack file
// gives them, or else the outputs its from_terraform_output block names,
// read from the block's directory (relative to the stack file) through r.
// r may be nil when db has no such block. Outputs may be strings or
// numbers; Port is DefaultPort when the block names no port output.
// Errors name the stack file position of the attribute at fault, the
// output, the directory and what to do.
func EndpointsFor(ctx context.Context, st *stackfile.Stack, db *stackfile.Database, r Reader) (Endpoints, error) {
	tf := db.FromTerraform
	if tf == nil {
		return Endpoints{Writer: db.Address, Port: db.Port}, nil
	}
	at := func(attr string) string { return tf.Attrs.Of(attr, tf.DeclRange).String() }
	if r == nil {
		return Endpoints{}, fmt.Errorf("%s: database %q: its endpoints are Terraform outputs, and no Terraform is available", at("dir"), db.Name)
	}
	dir := st.Path(tf.Dir)
	outs, err := r.Outputs(ctx, dir)
	if err != nil {
		return Endpoints{}, fmt.Errorf("%s: database %q: reading Terraform outputs in %s: %w", at("dir"), db.Name, dir, err)
	}
	// value returns output name, which attr of the block names, as a
	// string.
	value := func(attr, name string) (string, error) {
		raw, ok := outs[name]
		if !ok {
			return "", fmt.Errorf("%s: database %q: Terraform in %s has no output %q (run `terraform apply` there, or fix %s)",
				at(attr), db.Name, dir, name, attr)
		}
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s, nil
		}
		// Some modules output a port as a number, some as a string.
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			return n.String(), nil
		}
		return "", fmt.Errorf("%s: database %q: Terraform output %q in %s is %s, neither a string nor a number (fix %s to name a string output)",
			at(attr), db.Name, name, dir, raw, attr)
	}
	host := func(attr, name string) (string, error) {
		h, err := value(attr, name)
		if err == nil && h == "" {
			err = fmt.Errorf("%s: database %q: Terraform output %q in %s is empty, not a host name (run `terraform apply` there, or fix %s)",
				at(attr), db.Name, name, dir, attr)
		}
		return h, err
	}
	eps := Endpoints{Port: DefaultPort}
	if eps.Writer, err = host("writer", tf.Writer); err != nil {
		return Endpoints{}, err
	}
	if tf.Reader != "" {
		if eps.Reader, err = host("reader", tf.Reader); err != nil {
			return Endpoints{}, err
		}
	}
	if tf.Port != "" {
		s, err := value("port", tf.Port)
		if err != nil {
			return Endpoints{}, err
		}
		p, err := strconv.Atoi(s)
		if err != nil || p < 1 || p > 65535 {
			return Endpoints{}, fmt.Errorf("%s: database %q: Terraform output %q in %s is %s, not a port number (1-65535; fix port to name the port output)",
				at("port"), db.Name, tf.Port, dir, outs[tf.Port])
		}
		eps.Port = p
	}
	return eps, nil
}
