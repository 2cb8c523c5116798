// Package provisionscripts embeds the role entry points, so a built hstack
// renders a loopback cluster (`hstack dev up --cluster`) with exactly the
// scripts Packer bakes into the images and Vagrant runs.
package provisionscripts

import (
	"embed"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed *.sh
var files embed.FS

// WriteTo copies the scripts into dir (server.sh, client.sh, vault.sh and
// the lib.sh they source), executable.
func WriteTo(dir string) error {
	// #nosec G301 -- the scripts are public (they are in the repository and on every image).
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	names, err := fs.Glob(files, "*.sh")
	if err != nil {
		return err
	}
	for _, n := range names {
		b, err := files.ReadFile(n)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o755); err != nil { // #nosec G306 -- public, as above, and executable
			return err
		}
	}
	return nil
}
