// Package infra drives an environment's Terraform (terraform/envs/<name>)
// through terraform-exec: init, plan, apply, output and destroy over its
// layers in order. An environment is split into layers with a state each
// (network, cluster, database) so that they change independently, and an
// outputs root (the environment directory itself) that holds the stable
// outputs hstack reads. Each layer's outputs are passed to the later layers
// as the variables of the same names.
package infra

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// LayerOrder is the order layers are planned and applied in (destroyed in
// reverse); the outputs root comes last.
var LayerOrder = []string{"network", "cluster", "database"}

// OutputsLayer names the environment directory itself as a layer.
const OutputsLayer = "outputs"

// BackendFile is the partial backend configuration every layer of an
// environment is initialised with, in the environment directory.
const BackendFile = "backend.hcl"

// Env is one environment.
type Env struct {
	Name string
	// Dir is terraform/envs/<Name>.
	Dir string
	// Layers in apply order.
	Layers []Layer
}

// Layer is one Terraform root of an environment.
type Layer struct {
	Name string
	Dir  string
	// Variables the layer declares: name -> required (no default).
	Variables map[string]bool
}

// Open reads environment name under tfDir (the repository's terraform/
// directory). Errors say which environments exist and what is missing.
func Open(tfDir, name string) (*Env, error) {
	envsDir := filepath.Join(tfDir, "envs")
	dir := filepath.Join(envsDir, name)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() || name == "" || strings.ContainsAny(name, `/\`) {
		return nil, fmt.Errorf("environment %q: no directory %s (environments: %s)", name, dir, strings.Join(envNames(envsDir), ", "))
	}
	env := &Env{Name: name, Dir: dir}
	known := map[string]bool{}
	for _, l := range LayerOrder {
		known[l] = true
		ldir := filepath.Join(dir, l)
		if hasTF(ldir) {
			layer, err := readLayer(l, ldir)
			if err != nil {
				return nil, err
			}
			env.Layers = append(env.Layers, layer)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() && !known[e.Name()] && hasTF(filepath.Join(dir, e.Name())) {
			return nil, fmt.Errorf("environment %q: %s holds Terraform, but hstack only runs the layers %s and the environment directory itself",
				name, filepath.Join(dir, e.Name()), strings.Join(LayerOrder, ", "))
		}
	}
	if hasTF(dir) {
		layer, err := readLayer(OutputsLayer, dir)
		if err != nil {
			return nil, err
		}
		env.Layers = append(env.Layers, layer)
	}
	if len(env.Layers) == 0 {
		return nil, fmt.Errorf("environment %q: no Terraform (.tf files) in %s or its layer directories %s", name, dir, strings.Join(LayerOrder, ", "))
	}
	return env, nil
}

// BackendConfig returns the path of the environment's backend.hcl, or an
// error saying how to write it.
func (e *Env) BackendConfig() (string, error) {
	p := filepath.Join(e.Dir, BackendFile)
	if _, err := os.Stat(p); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("environment %q: backend configuration %s is missing: write it from `terraform -chdir=terraform/bootstrap output -raw backend_config` (see %s.example)", e.Name, p, p)
		}
		return "", err
	}
	return p, nil
}

// VarFiles returns the values of the environment's *.tfvars.json files
// (images.auto.tfvars.json from `hstack image build`), merged in name order.
// They are handed to every layer that declares the variables.
func (e *Env) VarFiles() (map[string]json.RawMessage, error) {
	files, _ := filepath.Glob(filepath.Join(e.Dir, "*.tfvars.json"))
	sort.Strings(files)
	vals := map[string]json.RawMessage{}
	for _, f := range files {
		b, err := os.ReadFile(f) // #nosec G304 -- a *.tfvars.json of the env directory in the project
		if err != nil {
			return nil, err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for k, v := range m {
			vals[k] = v
		}
	}
	return vals, nil
}

func readLayer(name, dir string) (Layer, error) {
	mod, diags := tfconfig.LoadModule(dir)
	if diags.HasErrors() {
		return Layer{}, fmt.Errorf("layer %s: %w", name, diags.Err())
	}
	set, err := autoLoaded(dir)
	if err != nil {
		return Layer{}, fmt.Errorf("layer %s: %w", name, err)
	}
	vars := map[string]bool{}
	for n, v := range mod.Variables {
		// A value in the layer's own terraform.tfvars satisfies it too.
		vars[n] = v.Required && !set[n]
	}
	return Layer{Name: name, Dir: dir, Variables: vars}, nil
}

// autoLoaded names the variables the files Terraform loads by itself in
// dir (terraform.tfvars, *.auto.tfvars and their .json forms) set.
func autoLoaded(dir string) (map[string]bool, error) {
	set := map[string]bool{}
	var files []string
	for _, pat := range []string{"terraform.tfvars", "*.auto.tfvars", "terraform.tfvars.json", "*.auto.tfvars.json"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		files = append(files, m...)
	}
	p := hclparse.NewParser()
	for _, f := range files {
		var file *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(f, ".json") {
			file, diags = p.ParseJSONFile(f)
		} else {
			file, diags = p.ParseHCLFile(f)
		}
		if diags.HasErrors() {
			return nil, diags
		}
		attrs, diags := file.Body.JustAttributes()
		if diags.HasErrors() {
			return nil, diags
		}
		for n := range attrs {
			set[n] = true
		}
	}
	return set, nil
}

func hasTF(dir string) bool {
	m, _ := filepath.Glob(filepath.Join(dir, "*.tf"))
	return len(m) > 0
}

func envNames(envsDir string) []string {
	entries, _ := os.ReadDir(envsDir)
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return []string{"none in " + envsDir}
	}
	return names
}

// Inputs picks from values (the environment's var files, overridden by
// the outputs of the layers before) the variables layer declares, and
// names the required ones no value is known for.
func Inputs(layer Layer, values map[string]json.RawMessage) (in map[string]json.RawMessage, missing []string) {
	in = map[string]json.RawMessage{}
	for name, required := range layer.Variables {
		if v, ok := values[name]; ok {
			in[name] = v
		} else if required {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	return in, missing
}
