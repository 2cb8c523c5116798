package infra

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

// Runner runs Terraform over an environment's layers, streaming
// Terraform's own output to Stdout and Stderr.
type Runner struct {
	Env *Env
	// Bin is the terraform (or tofu) binary.
	Bin            string
	Stdout, Stderr io.Writer
}

// LayerPlan is what planning one layer found.
type LayerPlan struct {
	Layer string `json:"layer"`
	// Changes is true when applying would change something, or when the
	// layer waits for an earlier one (Waits) to be applied first.
	Changes bool `json:"changes"`
	// Waits names the inputs an earlier, not yet applied layer will output.
	Waits []string `json:"waits_for,omitempty"`
}

func (r *Runner) terraform(l Layer) (*tfexec.Terraform, error) {
	tf, err := tfexec.NewTerraform(l.Dir, r.Bin)
	if err != nil {
		return nil, err
	}
	tf.SetStdout(r.Stdout)
	tf.SetStderr(r.Stderr)
	return tf, nil
}

func (r *Runner) banner(l Layer, what string) {
	fmt.Fprintf(r.Stdout, "==> %s/%s: terraform %s\n", r.Env.Name, l.Name, what)
}

// Init initialises every layer with the environment's backend.hcl.
func (r *Runner) Init(ctx context.Context) error {
	backend, err := r.Env.BackendConfig()
	if err != nil {
		return err
	}
	for _, l := range r.Env.Layers {
		tf, err := r.terraform(l)
		if err != nil {
			return err
		}
		r.banner(l, "init")
		if err := tf.Init(ctx, tfexec.BackendConfig(backend), tfexec.Upgrade(false)); err != nil {
			return fmt.Errorf("%s/%s: terraform init: %w", r.Env.Name, l.Name, err)
		}
	}
	return nil
}

// checkInit fails clearly before Terraform does when a layer was never
// initialised (its working data lives in .terraform unless TF_DATA_DIR
// moves it).
func (r *Runner) checkInit(l Layer) error {
	if _, err := r.Env.BackendConfig(); err != nil {
		return err
	}
	if os.Getenv("TF_DATA_DIR") != "" {
		return nil
	}
	if _, err := os.Stat(filepath.Join(l.Dir, ".terraform")); err != nil {
		return fmt.Errorf("%s/%s is not initialised: run `hstack infra init --env %s` first", r.Env.Name, l.Name, r.Env.Name)
	}
	return nil
}

// varFile writes the layer's inputs to a private temporary file for
// -var-file (values may be sensitive: never on a command line).
func varFile(dir string, in map[string]json.RawMessage) (string, error) {
	b, err := json.Marshal(in)
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, "inputs.tfvars.json")
	return p, os.WriteFile(p, b, 0o600)
}

// outputs reads a layer's outputs (pkg/tfoutputs, the one reader).
func (r *Runner) outputs(ctx context.Context, l Layer) (map[string]json.RawMessage, error) {
	outs, err := tfoutputs.Terraform{ExecPath: r.Bin}.Outputs(ctx, l.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", r.Env.Name, l.Name, err)
	}
	return outs, nil
}

// walk plans the layers in order, each with the environment's var files
// and the outputs of the layers before it. For each layer with changes
// (when apply is non-nil) it calls apply with the saved plan and then reads
// the layer's new outputs for the next.
func (r *Runner) walk(ctx context.Context, apply func(l Layer, tf *tfexec.Terraform, plan string) error) ([]LayerPlan, error) {
	values, err := r.Env.VarFiles()
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "hstack-infra-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	var plans []LayerPlan
	pending := false // an earlier layer has changes not applied
	for i, l := range r.Env.Layers {
		if err := r.checkInit(l); err != nil {
			return plans, err
		}
		in, missing := Inputs(l, values)
		if len(missing) > 0 {
			if pending && apply == nil {
				fmt.Fprintf(r.Stdout, "==> %s/%s: not planned: waits for the layers before it to be applied (%s)\n", r.Env.Name, l.Name, strings.Join(missing, ", "))
				plans = append(plans, LayerPlan{Layer: l.Name, Changes: true, Waits: missing})
				continue
			}
			return plans, fmt.Errorf("%s/%s needs %s, which no earlier layer outputs and no *.tfvars.json in %s sets", r.Env.Name, l.Name, strings.Join(missing, ", "), r.Env.Dir)
		}
		vf, err := varFile(tmp, in)
		if err != nil {
			return plans, err
		}
		tf, err := r.terraform(l)
		if err != nil {
			return plans, err
		}
		planFile := filepath.Join(tmp, fmt.Sprintf("%d-%s.tfplan", i, l.Name))
		r.banner(l, "plan")
		changes, err := tf.Plan(ctx, tfexec.VarFile(vf), tfexec.Out(planFile))
		if err != nil {
			return plans, fmt.Errorf("%s/%s: terraform plan: %w", r.Env.Name, l.Name, err)
		}
		plans = append(plans, LayerPlan{Layer: l.Name, Changes: changes})
		if changes {
			pending = true
			if apply != nil {
				if err := apply(l, tf, planFile); err != nil {
					return plans, err
				}
				pending = false
			}
		}
		outs, err := r.outputs(ctx, l)
		if err != nil {
			return plans, err
		}
		for k, v := range outs {
			values[k] = v
		}
	}
	return plans, nil
}

// Plan plans every layer; nothing is changed.
func (r *Runner) Plan(ctx context.Context) ([]LayerPlan, error) {
	return r.walk(ctx, nil)
}

// ErrDeclined is returned when the operator does not confirm.
var ErrDeclined = errors.New("not confirmed; nothing more was changed")

// Apply plans each layer, shows the plan, and applies it when confirm
// (called with the layer's name, only for layers with changes) says yes.
// A layer declined stops the apply: the layers after it would be planned
// against outputs that did not change.
func (r *Runner) Apply(ctx context.Context, confirm func(layer string) (bool, error)) ([]LayerPlan, error) {
	return r.walk(ctx, func(l Layer, tf *tfexec.Terraform, plan string) error {
		ok, err := confirm(l.Name)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s/%s: %w", r.Env.Name, l.Name, ErrDeclined)
		}
		r.banner(l, "apply")
		if err := tf.Apply(ctx, tfexec.DirOrPlan(plan)); err != nil {
			return fmt.Errorf("%s/%s: terraform apply: %w", r.Env.Name, l.Name, err)
		}
		return nil
	})
}

// Destroy destroys every layer, the last applied first, each with the
// inputs it was applied with (read from the layers' outputs beforehand).
func (r *Runner) Destroy(ctx context.Context) error {
	values, err := r.Env.VarFiles()
	if err != nil {
		return err
	}
	for _, l := range r.Env.Layers {
		if err := r.checkInit(l); err != nil {
			return err
		}
		outs, err := r.outputs(ctx, l)
		if err != nil {
			return err
		}
		for k, v := range outs {
			values[k] = v
		}
	}
	tmp, err := os.MkdirTemp("", "hstack-infra-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	for i := len(r.Env.Layers) - 1; i >= 0; i-- {
		l := r.Env.Layers[i]
		tf, err := r.terraform(l)
		if err != nil {
			return err
		}
		// A layer never applied (or already destroyed) has nothing to
		// destroy, and its inputs may not exist: skip it. Its own
		// terraform-exec instance: JSON commands would also stream to
		// Stdout, and the state holds secrets.
		quiet, err := tfexec.NewTerraform(l.Dir, r.Bin)
		if err != nil {
			return err
		}
		state, err := quiet.Show(ctx)
		if err != nil {
			return fmt.Errorf("%s/%s: terraform show: %w", r.Env.Name, l.Name, err)
		}
		if emptyState(state) {
			fmt.Fprintf(r.Stdout, "==> %s/%s: nothing to destroy\n", r.Env.Name, l.Name)
			continue
		}
		in, missing := Inputs(l, values)
		if len(missing) > 0 {
			return fmt.Errorf("%s/%s: cannot destroy without %s (the layers it was applied with are gone)", r.Env.Name, l.Name, strings.Join(missing, ", "))
		}
		vf, err := varFile(tmp, in)
		if err != nil {
			return err
		}
		r.banner(l, "destroy")
		if err := tf.Destroy(ctx, tfexec.VarFile(vf)); err != nil {
			return fmt.Errorf("%s/%s: terraform destroy: %w", r.Env.Name, l.Name, err)
		}
	}
	return nil
}

// Outputs reads the environment's outputs: those of the outputs root when
// there is one, else of the last layer.
func (r *Runner) Outputs(ctx context.Context) (map[string]tfoutputs.Output, error) {
	l := r.Env.Layers[len(r.Env.Layers)-1]
	if err := r.checkInit(l); err != nil {
		return nil, err
	}
	outs, err := tfoutputs.Terraform{ExecPath: r.Bin}.Read(ctx, l.Dir)
	if err != nil {
		return nil, fmt.Errorf("%s/%s: %w", r.Env.Name, l.Name, err)
	}
	return outs, nil
}

func emptyState(s *tfjson.State) bool {
	if s == nil || s.Values == nil {
		return true
	}
	m := s.Values.RootModule
	return len(s.Values.Outputs) == 0 && (m == nil || len(m.Resources) == 0 && len(m.ChildModules) == 0)
}
