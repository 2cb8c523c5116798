package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/infra"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// flagEnv (validate.go) names the environment here too: the stack file's
// environment and the Terraform one are the same.
const (
	flagTerraformDir = "terraform-dir"
	flagAutoApprove  = "auto-approve"
)

func infraFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: flagEnv, Required: true, EnvVars: []string{"HSTACK_ENV"},
			Usage: "environment `NAME`: the Terraform in <terraform-dir>/envs/NAME"},
		&cli.StringFlag{Name: flagTerraformDir, Value: "terraform", EnvVars: []string{"HSTACK_TERRAFORM_DIR"},
			Usage: "`DIR` holding envs/ (and the modules they use)"},
	}
}

func autoApproveFlag(usage string) cli.Flag {
	return &cli.BoolFlag{Name: flagAutoApprove, Usage: usage}
}

func infraCommand() *cli.Command {
	return &cli.Command{
		Name:  "infra",
		Usage: "provision an environment's AWS infrastructure with Terraform",
		Description: "Runs Terraform (through terraform-exec) over terraform/envs/NAME: its layers\n" +
			"network, cluster and database, each with a state of its own, then the environment\n" +
			"directory itself, whose outputs (Nomad/Consul/Vault addresses, the ALB, Aurora's\n" +
			"endpoints, the AMIs in use, the client ASG's bounds) hstack reads. Each layer's\n" +
			"outputs are the next layers' variables of the same names; *.tfvars.json files in\n" +
			"the environment directory (images.auto.tfvars.json from `hstack image build`) are\n" +
			"passed to every layer that declares their variables. Terraform's output streams\n" +
			"as it runs. The backend configuration is envs/NAME/backend.hcl.",
		Subcommands: []*cli.Command{
			{
				Name:   "init",
				Usage:  "terraform init every layer with the environment's backend.hcl",
				Flags:  infraFlags(),
				Action: infraInit,
			},
			{
				Name:  "plan",
				Usage: "plan every layer; changes nothing",
				Description: "Exit codes, as `terraform plan -detailed-exitcode`: 0 no changes, 2 changes\n" +
					"(also when a layer waits for an earlier one to be applied), 1 failure. A wrong\n" +
					"invocation also exits 2, with its message on stderr, before anything runs.",
				Flags:  infraFlags(),
				Action: infraPlan,
			},
			{
				Name:  "apply",
				Usage: "plan and apply every layer in order, asking before each change",
				Description: "Shows each layer's plan and asks for 'yes' before applying it. Without a\n" +
					"terminal to ask on, refuses (changing nothing) unless --auto-approve is given.",
				Flags:  append(infraFlags(), autoApproveFlag("apply without asking (CI)")),
				Action: infraApply,
			},
			{
				Name:      "output",
				Usage:     "print the environment's outputs, or one of them",
				ArgsUsage: "[NAME]",
				Description: "Without NAME: every output (sensitive ones as <sensitive>); with --json one\n" +
					"JSON object. With NAME: its value alone, strings unquoted, sensitive or not.",
				Flags:  infraFlags(),
				Action: infraOutput,
			},
			{
				Name:   "destroy",
				Usage:  "destroy every layer, last applied first, after typing the environment's name",
				Flags:  append(infraFlags(), autoApproveFlag("destroy without asking (CI; dangerous)")),
				Action: infraDestroy,
			},
		},
	}
}

// infraRunner opens the environment and finds Terraform. Errors name the
// flag, the directory or the missing binary.
func infraRunner(c *cli.Context) (*infra.Runner, *Output, error) {
	out := OutputFromContext(c)
	env, err := infra.Open(c.String(flagTerraformDir), c.String(flagEnv))
	if err != nil {
		return nil, nil, UsageErrorf("--%s: %v", flagEnv, err)
	}
	bin, err := tools.Find("terraform")
	if err != nil {
		return nil, nil, fmt.Errorf("hstack infra needs Terraform: %w", err)
	}
	r := &infra.Runner{Env: env, Bin: bin, Stdout: out.Stdout, Stderr: out.Stderr}
	if out.JSON {
		// stdout carries the JSON result; Terraform's own output goes to
		// stderr.
		r.Stdout = out.Stderr
	}
	return r, out, nil
}

func infraInit(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	r, _, err := infraRunner(c)
	if err != nil {
		return err
	}
	return r.Init(c.Context)
}

func infraPlan(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	r, out, err := infraRunner(c)
	if err != nil {
		return err
	}
	plans, err := r.Plan(c.Context)
	if err != nil {
		return err
	}
	changes := false
	for _, p := range plans {
		changes = changes || p.Changes
		what := "no changes"
		if p.Changes {
			what = "changes"
		}
		if err := out.Emit(p, "%s/%s: %s", r.Env.Name, p.Layer, what); err != nil {
			return err
		}
	}
	if changes {
		return &ExitError{Code: ExitInfraChanges}
	}
	return nil
}

// stdinTerminal reports whether the app reads a terminal, where an
// operator can answer a question.
func stdinTerminal(c *cli.Context) (*os.File, bool) {
	f, ok := c.App.Reader.(*os.File)
	if !ok {
		return nil, false
	}
	fi, err := f.Stat()
	return f, err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// asker reads answers from the terminal, one line each.
type asker struct {
	in  *bufio.Reader
	out io.Writer
}

func (a asker) ask(question string) (string, error) {
	fmt.Fprint(a.out, question)
	line, err := a.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", fmt.Errorf("reading the answer: %w", err)
	}
	return strings.TrimSpace(line), nil
}

// confirmation returns how to ask, or a usage error when neither
// --auto-approve nor a terminal is there: nothing has run yet.
func confirmation(c *cli.Context, out *Output, what string) (*asker, error) {
	if c.Bool(flagAutoApprove) {
		return nil, nil
	}
	f, tty := stdinTerminal(c)
	if !tty {
		return nil, UsageErrorf("refusing to %s without --%s: stdin is not a terminal to confirm on; nothing was changed", what, flagAutoApprove)
	}
	return &asker{in: bufio.NewReader(f), out: out.Stderr}, nil
}

func infraApply(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	r, out, err := infraRunner(c)
	if err != nil {
		return err
	}
	a, err := confirmation(c, out, "apply")
	if err != nil {
		return err
	}
	_, err = r.Apply(c.Context, func(layer string) (bool, error) {
		if a == nil {
			return true, nil
		}
		ans, err := a.ask(fmt.Sprintf("\nApply the plan above to %s/%s? Only 'yes' is accepted: ", r.Env.Name, layer))
		return ans == "yes", err
	})
	return err
}

func infraDestroy(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	r, out, err := infraRunner(c)
	if err != nil {
		return err
	}
	a, err := confirmation(c, out, "destroy")
	if err != nil {
		return err
	}
	if a != nil {
		var names []string
		for i := len(r.Env.Layers) - 1; i >= 0; i-- {
			names = append(names, r.Env.Layers[i].Name)
		}
		ans, err := a.ask(fmt.Sprintf("Destroy every resource of environment %q (layers %s)? Type the environment's name to confirm: ",
			r.Env.Name, strings.Join(names, ", ")))
		if err != nil {
			return err
		}
		if ans != r.Env.Name {
			return fmt.Errorf("destroy of %q: %w", r.Env.Name, infra.ErrDeclined)
		}
	}
	return r.Destroy(c.Context)
}

func infraOutput(c *cli.Context) error {
	if c.NArg() > 1 {
		return UsageErrorf("unexpected argument %q (see '%s --help')", c.Args().Get(1), commandPath(c))
	}
	r, out, err := infraRunner(c)
	if err != nil {
		return err
	}
	outs, err := r.Outputs(c.Context)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(outs))
	for n := range outs {
		names = append(names, n)
	}
	sort.Strings(names)
	if name := c.Args().First(); name != "" {
		o, ok := outs[name]
		if !ok {
			return fmt.Errorf("environment %q has no output %q (outputs: %s)", r.Env.Name, name, strings.Join(names, ", "))
		}
		var s string
		if !out.JSON && json.Unmarshal(o.Value, &s) == nil {
			_, err = fmt.Fprintln(out.Stdout, s)
		} else {
			_, err = fmt.Fprintln(out.Stdout, string(o.Value))
		}
		return err
	}
	shown := map[string]json.RawMessage{}
	for _, n := range names {
		v := outs[n].Value
		if outs[n].Sensitive {
			v = json.RawMessage(`"<sensitive>"`)
		}
		shown[n] = v
	}
	if out.JSON {
		enc := json.NewEncoder(out.Stdout)
		enc.SetEscapeHTML(false)
		return enc.Encode(shown)
	}
	for _, n := range names {
		if _, err := fmt.Fprintf(out.Stdout, "%s = %s\n", n, shown[n]); err != nil {
			return err
		}
	}
	return nil
}
