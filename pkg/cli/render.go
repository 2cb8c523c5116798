package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/dustin/go-humanize/english"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
)

// Flags shared by render and plan (and later deploy): whatever changes the
// rendered jobs must be given the same way to all of them.
const (
	flagOutput        = "output"
	flagCheck         = "check"
	flagCommit        = "commit"
	flagAppVersion    = "app-version"
	flagConsulDNSAddr = "consul-dns-addr"
	flagBin           = "bin"
	flagTFOutputs     = "terraform-outputs"

	catRender = "Rendering"
)

func renderFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagCommit, EnvVars: []string{"HSTACK_COMMIT"}, Category: catRender,
			Usage: "git `SHA` of the release, recorded in job and service meta (default: none)"},
		&cli.StringFlag{Name: flagAppVersion, EnvVars: []string{"HSTACK_APP_VERSION"}, Category: catRender,
			Usage: "`VERSION` recorded for apps whose meta has no version (default: the image tag)"},
		&cli.StringFlag{Name: flagConsulDNSAddr, EnvVars: []string{"HSTACK_CONSUL_DNS_ADDR"}, Category: catRender,
			Usage: "Consul DNS `IP:PORT` the ingress resolves apps through, the same for every node (default: each node's own Consul agent, its node meta " + render.MetaConsulDNSAddr + ")"},
		&cli.GenericFlag{Name: flagBin, Value: &repeatedFlag{}, Category: catRender,
			Usage: "raw_exec binary for local infrastructure, `NAME=PATH` (haproxy, prometheus, alertmanager, node_exporter); repeatable"},
		&cli.StringFlag{Name: flagTFOutputs, EnvVars: []string{"HSTACK_TERRAFORM_OUTPUTS"}, Category: catRender,
			Usage: "Terraform `DIR` (an environment's outputs root, e.g. terraform/envs/prod) whose outputs add the cluster jobs: " +
				"the autoscaler's aws-asg policy for " + tfoutputs.OutputClientASGName + " and the periodic snapshot job for " + tfoutputs.OutputSnapshotBucket + " (default: neither)"},
	}
}

// renderOptions builds render.Options from the flags.
//
// Agent addresses reach the rendered files only for a local stack (every
// app on raw_exec, see render.Local): there they are the dev stack's, from
// the same flags and NOMAD_ADDR/CONSUL_HTTP_ADDR/VAULT_ADDR variables that
// point hstack at it. A cluster's infrastructure jobs talk to their
// node-local agents, so an operator's own connection settings must never
// end up in them.
func renderOptions(c *cli.Context, st *stackfile.Stack) (render.Options, error) {
	opts := render.Options{
		Version:       c.String(flagAppVersion),
		Commit:        c.String(flagCommit),
		ConsulDNSAddr: c.String(flagConsulDNSAddr),
	}
	for _, kv := range repeated(c, flagBin) {
		name, path, ok := strings.Cut(kv, "=")
		if !ok || name == "" || path == "" {
			return opts, UsageErrorf("invalid --%s %q: want NAME=PATH (see '%s --help')", flagBin, kv, commandPath(c))
		}
		if opts.Binaries == nil {
			opts.Binaries = map[string]string{}
		}
		opts.Binaries[name] = path
	}
	if render.Local(st) {
		opts.ConsulHTTPAddr = c.String(flagConsulAddr)
		opts.NomadAddr = c.String(flagNomadAddr)
		opts.VaultAddr = c.String(flagVaultAddr)
	}
	if dir := c.String(flagTFOutputs); dir != "" {
		// Only when asked: a render must not depend on a Terraform state
		// the machine may not reach, and jobs/prod stays reproducible.
		ops, err := tfoutputs.OpsFrom(c.Context, dir, tfoutputs.Terraform{})
		if err != nil {
			return opts, UsageErrorf("--%s: %v", flagTFOutputs, err)
		}
		opts = withOps(opts, ops)
	}
	return opts, nil
}

// withOps adds what the cluster jobs need from Terraform to opts: the
// client fleet's group and bounds for the autoscaler's aws-asg policy, the
// bucket for the periodic snapshot job. A job whose outputs are missing is
// left out, as without the flag.
func withOps(opts render.Options, o tfoutputs.Ops) render.Options {
	if o.ClientASGName != "" {
		opts.ClientFleet = &render.ClientFleet{ASGName: o.ClientASGName, Min: o.ClientMin, Max: o.ClientMax, Region: o.Region}
	}
	opts.SnapshotBucket = o.SnapshotBucket
	return opts
}

// renderStack loads the stack file and renders its jobs. Whatever stops
// rendering is a problem of the stack file or the flags: bad input.
func renderStack(c *cli.Context) (*stackfile.Stack, []*render.Job, error) {
	st, err := loadStack(c)
	if err != nil {
		return nil, nil, err
	}
	opts, err := renderOptions(c, st)
	if err != nil {
		return nil, nil, err
	}
	jobs, err := render.Render(st, opts)
	if err != nil {
		return nil, nil, &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s cannot be rendered:\n%s", st.Filename, indent(err.Error()))}
	}
	return st, jobs, nil
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(s, "\n", "\n  ")
}

func renderCommand() *cli.Command {
	return &cli.Command{
		Name:  "render",
		Usage: "write the stack's Nomad jobs to files, or check that they are up to date",
		Description: "Renders one Nomad job per app, the ingress and the monitoring jobs, exactly as\n" +
			"hstack deploy submits them, and writes them as <DIR>/<job>.nomad.hcl; with --env NAME\n" +
			"into <DIR>/<NAME>/. Files of jobs no longer rendered are removed; files hstack did not\n" +
			"generate are never touched. With --check nothing is written: it lists the files that\n" +
			"are missing, changed or extra and exits 1 if there are any. An invalid stack file\n" +
			"exits 2 and writes nothing. See docs/rendering.md.",
		Flags: append(append(stackFlags(),
			&cli.StringFlag{Name: flagOutput, Aliases: []string{"o"}, Value: "jobs", Category: catRender,
				Usage: "`DIR` to write into; an --env gets a subdirectory of its name"},
			&cli.BoolFlag{Name: flagCheck, Category: catRender, DisableDefaultText: true,
				Usage: "write nothing; exit 1 if the files in DIR differ from what would be rendered"},
		), renderFlags()...),
		Action: renderAction,
	}
}

// renderedFile is one line of output, and one JSON object with --json.
type renderedFile struct {
	File string `json:"file"`
	Job  string `json:"job,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Status is written or removed; with --check missing, changed or extra.
	Status string `json:"status"`
}

func renderAction(c *cli.Context) error {
	st, jobs, err := renderStack(c)
	if err != nil {
		return err
	}
	dir := c.String(flagOutput)
	if st.Environment != "" {
		dir = filepath.Join(dir, st.Environment)
	}
	out := OutputFromContext(c)
	byPath := map[string]*render.Job{}
	for _, j := range jobs {
		byPath[filepath.Join(dir, j.File)] = j
	}
	emit := func(path, status string) error {
		f := renderedFile{File: path, Status: status}
		if j := byPath[path]; j != nil {
			f.Job, f.Kind = j.Name, j.Kind
		}
		verb := map[string]string{"written": "wrote", "missing": "missing:", "changed": "changed:", "extra": "extra:"}[status]
		if verb == "" {
			verb = status
		}
		return out.Emit(f, "%s %s", verb, path)
	}

	if c.Bool(flagCheck) {
		differs, err := render.Check(dir, jobs)
		if err != nil {
			return err
		}
		for _, p := range differs {
			status := "extra"
			if byPath[p] != nil {
				status = "changed"
				if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
					status = "missing"
				}
			}
			if err := emit(p, status); err != nil {
				return err
			}
		}
		if len(differs) > 0 {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s out of date in %s: run '%s'", english.Plural(len(differs), "file", ""), dir, regenerate(c, st))}
		}
		out.Linef("%s: %s up to date", dir, english.Plural(len(jobs), "job", ""))
		return nil
	}

	written, err := render.Write(dir, jobs)
	for _, p := range written {
		if err := emit(p, "written"); err != nil {
			return err
		}
	}
	if err != nil {
		return err
	}
	removed, err := render.Prune(dir, jobs)
	for _, p := range removed {
		if err := emit(p, "removed"); err != nil {
			return err
		}
	}
	return err
}

// regenerate is the render command line that fixes what --check found.
func regenerate(c *cli.Context, st *stackfile.Stack) string {
	cmd := "hstack render"
	if f := c.String(flagFile); f != stackfile.DefaultFile {
		cmd += " -f " + f
	}
	if st.Environment != "" {
		cmd += " --env " + st.Environment
	}
	if o := c.String(flagOutput); o != "jobs" {
		cmd += " -o " + o
	}
	return cmd
}
