package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/dustin/go-humanize/english"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/snapshot"
	"github.com/hstack-dev/hstack/pkg/tools"
	"github.com/hstack-dev/hstack/pkg/version"
)

const (
	flagOut    = "out"
	flagYes    = "yes"
	flagOnly   = "only"
	flagUpload = "upload"
)

// snapshotProducts is the one order of the products: saved in it, and
// restored in it, Vault before Nomad so that jobs coming back find their
// identities' auth method where they left it.
var snapshotProducts = []string{"vault", "consul", "nomad"}

func snapshotCommand() *cli.Command {
	only := func() cli.Flag {
		return &cli.StringSliceFlag{Name: flagOnly, Usage: "only these `PRODUCTS` (nomad, consul, vault); default all three"}
	}
	return &cli.Command{
		Name:  "snapshot",
		Usage: "save, verify and restore Nomad, Consul and Vault state",
		Subcommands: []*cli.Command{
			{
				Name:      "save",
				Usage:     "snapshot Nomad, Consul and Vault (Raft) into one timestamped directory with a manifest and SHA-256 sums",
				ArgsUsage: " ",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: flagOut, Value: "snapshots", Usage: "parent `DIR` of the new set"},
					only(),
					&cli.StringFlag{Name: flagUpload, Usage: "also copy the set to `s3://BUCKET/PREFIX` (AWS SDK, standard credential chain)"},
				},
				Action: snapshotSave,
			},
			{
				Name:      "verify",
				Usage:     "check a set without restoring it: checksums, then each product's own inspection",
				ArgsUsage: "DIR",
				Action:    snapshotVerify,
			},
			{
				Name:      "restore",
				Usage:     "restore a set after a confirmation; a set whose checksums do not match is refused",
				ArgsUsage: "DIR",
				Flags: []cli.Flag{
					&cli.BoolFlag{Name: flagYes, Usage: "do not ask for confirmation (for scripts)"},
				},
				Action: snapshotRestore,
			},
		},
	}
}

// selectProducts validates --only.
func selectProducts(c *cli.Context) ([]string, error) {
	only := c.StringSlice(flagOnly)
	if len(only) == 0 {
		return snapshotProducts, nil
	}
	want := map[string]bool{}
	for _, o := range only {
		for _, p := range strings.Split(o, ",") {
			p = strings.TrimSpace(p)
			if !slices.Contains(snapshotProducts, p) {
				return nil, UsageErrorf("invalid --%s %q: want nomad, consul or vault", flagOnly, p)
			}
			want[p] = true
		}
	}
	var out []string
	for _, p := range snapshotProducts {
		if want[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// openProducts builds the official clients for the named products.
func openProducts(c *cli.Context, names []string) ([]snapshot.Product, error) {
	cfg := ConfigFromContext(c)
	var ps []snapshot.Product
	for _, n := range names {
		switch n {
		case "nomad":
			nc, err := clients.Nomad(cfg)
			if err != nil {
				return nil, &ExitError{Code: ExitUnreachable, Err: err}
			}
			ps = append(ps, &snapshot.Nomad{Client: nc})
		case "consul":
			cc, err := clients.Consul(cfg)
			if err != nil {
				return nil, &ExitError{Code: ExitUnreachable, Err: err}
			}
			ps = append(ps, snapshot.Consul{Client: cc})
		case "vault":
			vc, err := clients.Vault(cfg)
			if err != nil {
				return nil, &ExitError{Code: ExitUnreachable, Err: err}
			}
			ps = append(ps, snapshot.Vault{Client: vc})
		}
	}
	return ps, nil
}

type snapshotResult struct {
	Dir      string          `json:"dir"`
	Files    []snapshot.File `json:"files"`
	Uploaded string          `json:"uploaded,omitempty"`
}

func snapshotSave(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	names, err := selectProducts(c)
	if err != nil {
		return err
	}
	var bucket, prefix string
	if u := c.String(flagUpload); u != "" {
		if bucket, prefix, err = snapshot.ParseS3URL(u); err != nil {
			return UsageErrorf("invalid --%s: %v", flagUpload, err)
		}
	}
	ps, err := openProducts(c, names)
	if err != nil {
		return err
	}
	out := OutputFromContext(c)
	dir, m, err := snapshot.Save(c.Context, c.String(flagOut), time.Now(), version.Version, ps...)
	if err != nil {
		return apiFailure(err, ExitFailure)
	}
	for _, f := range m.Files {
		out.Linef("%-7s %s  %d bytes  sha256 %s", f.Product, f.Name, f.Size, f.SHA256)
	}
	res := snapshotResult{Dir: dir, Files: m.Files}
	if bucket != "" {
		cfg, err := config.LoadDefaultConfig(c.Context)
		if err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("saved %s; AWS: %w", dir, err)}
		}
		if _, err := snapshot.Upload(c.Context, s3.NewFromConfig(cfg), dir, bucket, prefix, m); err != nil {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("saved %s; upload: %w", dir, err)}
		}
		res.Uploaded = fmt.Sprintf("s3://%s/%s", bucket, path.Join(prefix, filepath.Base(dir)))
		out.Linef("uploaded to %s", res.Uploaded)
	}
	return out.Emit(res, "saved %s", dir)
}

type verifyResult struct {
	Dir         string                `json:"dir"`
	OK          bool                  `json:"ok"`
	Problems    []snapshot.Problem    `json:"problems,omitempty"`
	Inspections []snapshot.Inspection `json:"inspections,omitempty"`
}

// verifySet checks a set and writes what it found. It returns the result
// and an error for a set that is not intact.
func verifySet(ctx context.Context, out *Output, dir string) (*snapshot.Manifest, error) {
	m, err := snapshot.ReadManifest(dir)
	if err != nil {
		return nil, UsageErrorf("%v", err)
	}
	res := verifyResult{Dir: dir, Problems: snapshot.CheckSums(dir, m)}
	for _, f := range m.Files {
		if !problemFor(res.Problems, f.Name) {
			out.Linef("%-7s %s  checksum ok", f.Product, f.Name)
		}
	}
	for _, p := range res.Problems {
		out.Linef("%s %s", out.Red("FAIL"), p)
	}
	// A product's inspection of a file whose checksum is already wrong
	// says nothing more.
	if len(res.Problems) == 0 {
		res.Inspections = snapshot.Inspect(ctx, dir, m, tools.Find)
		for _, in := range res.Inspections {
			switch {
			case in.Skipped != "":
				out.Linef("%-7s not inspected: %s", in.Product, in.Skipped)
			case in.OK:
				out.Linef("%-7s %s: ok", in.Product, in.Command)
			default:
				out.Linef("%s %s: %s", out.Red("FAIL"), in.Command, in.Output)
				res.Problems = append(res.Problems, snapshot.Problem{File: in.Product + ".snap", What: in.Command + " failed: " + in.Output})
			}
		}
	}
	res.OK = len(res.Problems) == 0
	verdict := "intact"
	if !res.OK {
		verdict = fmt.Sprintf("NOT intact (%s)", english.Plural(len(res.Problems), "problem", ""))
	}
	if err := out.Emit(res, "%s: %s", dir, verdict); err != nil {
		return m, err
	}
	if !res.OK {
		return m, &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s does not verify", dir)}
	}
	return m, nil
}

func problemFor(ps []snapshot.Problem, file string) bool {
	for _, p := range ps {
		if p.File == file {
			return true
		}
	}
	return false
}

func snapshotVerify(c *cli.Context) error {
	if err := ExactArgs(c, "DIR"); err != nil {
		return err
	}
	_, err := verifySet(c.Context, OutputFromContext(c), c.Args().First())
	return err
}

func snapshotRestore(c *cli.Context) error {
	if err := ExactArgs(c, "DIR"); err != nil {
		return err
	}
	dir := c.Args().First()
	out := OutputFromContext(c)
	// The whole check, inspections included, runs before anything is asked
	// or restored: a set that does not verify changes nothing.
	m, err := verifySet(c.Context, out, dir)
	if err != nil {
		var ee *ExitError
		if errors.As(err, &ee) && ee.Code == ExitFailure {
			return &ExitError{Code: ExitFailure, Err: fmt.Errorf("%s does not verify; nothing restored", dir)}
		}
		return err
	}
	var names []string
	for _, p := range snapshotProducts {
		for _, f := range m.Files {
			if f.Product == p {
				names = append(names, p)
			}
		}
	}
	if !c.Bool(flagYes) {
		ok, err := confirm(c.App.Reader, out.Stderr, fmt.Sprintf(
			"Restore %s (taken %s) over the running %s? Their current state is replaced. Type 'yes': ",
			dir, m.CreatedAt.Format(time.RFC3339), strings.Join(names, ", ")))
		if err != nil {
			return UsageErrorf("%v: confirm on a terminal or pass --%s", err, flagYes)
		}
		if !ok {
			return &ExitError{Code: ExitFailure, Err: errors.New("not confirmed; nothing restored")}
		}
	}
	ps, err := openProducts(c, names)
	if err != nil {
		return err
	}
	if _, err := snapshot.Restore(c.Context, dir, func(p string) { out.Linef("restoring %s", p) }, ps...); err != nil {
		return apiFailure(err, ExitFailure)
	}
	for _, p := range ps {
		if n, ok := p.(*snapshot.Nomad); ok && len(n.Stale) > 0 {
			out.Linef("nomad: %s no client ran; Nomad places replacements", english.Plural(len(n.Stale), "restored allocation", ""))
		}
	}
	return out.Emit(map[string]any{"dir": dir, "restored": names}, "restored %s from %s", strings.Join(names, ", "), dir)
}

// confirm asks a yes/no question on in (stdin). Anything but "yes" is no;
// an input that ends first is an error, so a script that forgot --yes
// fails loudly instead of hanging or restoring.
func confirm(in io.Reader, prompt io.Writer, question string) (bool, error) {
	if in == nil {
		in = os.Stdin
	}
	fmt.Fprint(prompt, question)
	line, err := bufio.NewReader(in).ReadString('\n')
	if err != nil && line == "" {
		return false, errors.New("no answer on standard input")
	}
	return strings.TrimSpace(line) == "yes", nil
}
