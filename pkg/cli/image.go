package cli

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/image"
	"github.com/hstack-dev/hstack/pkg/tools"
)

func imageCommand() *cli.Command {
	return &cli.Command{
		Name:  "image",
		Usage: "build the machine images (Packer) the Terraform fleets run",
		Subcommands: []*cli.Command{{
			Name:  "build",
			Usage: "build one role's image with Packer and hand its AMI id to Terraform",
			Description: "Runs `packer init` and `packer build` on the template (packer/) for one role,\n" +
				"printing every line Packer prints, then reads the AMI id from Packer's manifest\n" +
				"and writes it as <role>_ami_id into terraform/envs/<env>/images.auto.tfvars.json,\n" +
				"keeping the other roles' ids. The pinned Nomad, Consul and Vault versions\n" +
				"(pkg/tools/versions.env) and the git commit are passed as variables.\n\n" +
				"Exit codes: 0 built, 1 Packer failed (the step is named), 2 bad flags.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "role", Required: true, Usage: "image to build: " + strings.Join(image.Roles, ", ")},
				&cli.StringSliceFlag{Name: "var", Usage: "a Packer variable, `KEY=VALUE` (repeatable)"},
				&cli.StringSliceFlag{Name: "only", Usage: "build only these Packer builds (`NAME`, repeatable), as packer build -only"},
				&cli.StringFlag{Name: "env", Value: "dev", Usage: "Terraform environment that gets the AMI id (terraform/envs/`NAME`)"},
				&cli.StringFlag{Name: "template", Value: "packer", Usage: "Packer template `DIR` or file"},
			},
			Action: imageBuildAction,
		}},
	}
}

func imageBuildAction(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	role := c.String("role")
	if !image.ValidRole(role) {
		return UsageErrorf("invalid value %q for flag --role: want %s", role, strings.Join(image.Roles, ", "))
	}
	env := c.String("env")
	if env == "" || strings.ContainsAny(env, `/\`) || env == "." || env == ".." {
		return UsageErrorf("invalid value %q for flag --env: want an environment name such as dev or prod", env)
	}
	vars := map[string]string{
		"nomad_version":  tools.Version("nomad"),
		"consul_version": tools.Version("consul"),
		"vault_version":  tools.Version("vault"),
		"git_commit":     gitCommit(),
	}
	for _, kv := range c.StringSlice("var") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return UsageErrorf("invalid value %q for flag --var: want KEY=VALUE", kv)
		}
		if k == "role" || k == "manifest" {
			return UsageErrorf("invalid value %q for flag --var: %s is set by hstack (use --role)", kv, k)
		}
		vars[k] = v
	}
	packer, err := tools.Find("packer")
	if err != nil {
		return err
	}
	out := OutputFromContext(c)
	sink := func(e image.Event) {
		if out.JSON {
			b, _ := json.Marshal(struct {
				Kind string `json:"kind"`
				image.Event
			}{"event", e})
			fmt.Fprintln(out.Stdout, string(b))
			return
		}
		if e.Type == image.EventOutput {
			fmt.Fprintf(out.Stdout, "%s | %s\n", role, e.Line)
		}
	}
	res, err := image.Build(c.Context, image.Options{
		Packer: packer, Template: c.String("template"), Role: role, Vars: vars, Only: c.StringSlice("only"),
	}, sink)
	if err != nil {
		return err
	}
	// One role, one image: with several builds (regions), the first.
	art := res.Artifacts[0]
	id := image.ImageID(art.ArtifactID)
	file := image.VarsFile(".", env)
	if err := image.WriteVars(file, image.VarName(role), id); err != nil {
		return err
	}
	return out.Emit(map[string]any{
		"kind": "summary", "role": role, "artifact_id": art.ArtifactID, "image_id": id,
		"variable": image.VarName(role), "file": filepath.ToSlash(file),
	}, "%s image %s: %s = %q written to %s", role, out.Green("built"), image.VarName(role), id, filepath.ToSlash(file))
}

// gitCommit tags the image with the commit it was built from.
func gitCommit() string {
	b, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}
