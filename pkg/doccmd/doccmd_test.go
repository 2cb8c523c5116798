package doccmd

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFind(t *testing.T) {
	dir := t.TempDir()
	md := filepath.Join(dir, "a.md")
	if err := os.WriteFile(md, []byte("Run `hstack deploy --env prod` or `hstack`.\n"+
		"```sh\n"+
		"hstack validate [--env dev] [--var image_tag=1.2.0]\n"+
		"hstack status | promote | abort\n"+
		"eval \"$(hstack dev env)\"\n"+
		"hstack render --env prod        # jobs/prod/*.nomad.hcl\n"+
		"hstack services [SERVICE...]\n"+
		"```\n"+
		"prose about hstack deploy is not code\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	sh := filepath.Join(dir, "a.sh")
	if err := os.WriteFile(sh, []byte("hstack=bin/hstack\nvars=(--env dev --var \"x=$PWD/y\")\n"+
		"# hstack comment ignored\n"+
		"$hstack db setup \"${vars[@]}\"\n"+
		"echo \"==> hstack deploy: pingapp as a canary\"\n"+
		"echo \"==> waiting: hstack promote pingapp  (or: hstack abort pingapp)\"\n"+
		"  hstack status pingapp --env dev      hstack history pingapp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	yml := filepath.Join(dir, "w.yml")
	if err := os.WriteFile(yml, []byte("jobs:\n  d:\n    steps:\n      - run: hstack deploy --env staging --var image_tag=${{ github.sha }} --json\n"+
		"      - run: |\n          hstack deploy --env prod --strategy canary\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range []string{md, sh, yml} {
		ls, err := Find(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			got = append(got, strings.Join(l.Args, " "))
		}
	}
	want := []string{
		"deploy --env prod",
		"validate --env dev --var image_tag=1.2.0",
		"status",
		"dev env",
		"render --env prod",
		"services SERVICE",
		"db setup --env dev --var x=VALUE/y",
		"deploy",
		"promote pingapp",
		"abort pingapp",
		"status pingapp --env dev",
		"history pingapp",
		"deploy --env staging --var image_tag=VALUE --json",
		"deploy --env prod --strategy canary",
	}
	if !slices.Equal(got, want) {
		t.Errorf("found\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}
