package snapshot

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// inspectArgs is each product's own offline check of a snapshot file: it
// opens the archive, checks the checksums inside it and decodes its
// metadata, without a running server.
var inspectArgs = map[string][]string{
	"nomad":  {"operator", "snapshot", "inspect"},
	"consul": {"snapshot", "inspect"},
	"vault":  {"operator", "raft", "snapshot", "inspect"},
}

// Inspection is the result of one product's inspection of its snapshot.
type Inspection struct {
	Product string `json:"product"`
	// Command is what ran, e.g. "consul snapshot inspect consul.snap";
	// empty when nothing could run.
	Command string `json:"command,omitempty"`
	OK      bool   `json:"ok"`
	// Skipped says why a file was not inspected (no binary for it).
	Skipped string `json:"skipped,omitempty"`
	// Output is the tool's output, trimmed: its summary on success, its
	// complaint on failure.
	Output string `json:"output,omitempty"`
}

// Inspect runs each product's inspection on its file of the set. find
// locates a product's binary (tools.Find); a product it cannot find is
// reported as skipped, not as failed.
func Inspect(ctx context.Context, dir string, m *Manifest, find func(string) (string, error)) []Inspection {
	var out []Inspection
	for _, f := range m.Files {
		in := Inspection{Product: f.Product}
		args, ok := inspectArgs[f.Product]
		if !ok {
			in.Skipped = "no inspection known for " + f.Product
			out = append(out, in)
			continue
		}
		bin, err := find(f.Product)
		if err != nil {
			in.Skipped = err.Error()
			out = append(out, in)
			continue
		}
		path := filepath.Join(dir, f.Name)
		in.Command = strings.Join(append(append([]string{f.Product}, args...), f.Name), " ")
		// #nosec G204 -- bin is the product's own CLI pkg/tools found; path is a file of the set (ReadManifest checked its name).
		cmd := exec.CommandContext(ctx, bin, append(append([]string{}, args...), path)...)
		// Offline checks: no server address, token or TLS settings from the
		// caller's environment are needed or passed on. A HOME of its own:
		// the CLIs write caches there, which must not land in the set.
		home, err := os.MkdirTemp("", "hstack-inspect-")
		if err != nil {
			in.Skipped = err.Error()
			out = append(out, in)
			continue
		}
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + home}
		var buf bytes.Buffer
		cmd.Stdout, cmd.Stderr = &buf, &buf
		err = cmd.Run()
		_ = os.RemoveAll(home) // a temporary directory; the check's outcome is what counts
		in.Output = strings.TrimSpace(buf.String())
		if err != nil {
			in.Output = strings.TrimSpace(fmt.Sprintf("%s (%v)", in.Output, err))
		} else {
			in.OK = true
		}
		out = append(out, in)
	}
	return out
}
