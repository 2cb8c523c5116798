// Package version reports the build identity of the hstack binary.
//
// Release builds stamp Version and Commit with the linker:
//
//	go build -ldflags "-X github.com/hstack-dev/hstack/pkg/version.Version=v1.2.3 \
//	  -X github.com/hstack-dev/hstack/pkg/version.Commit=$(git rev-parse HEAD)" ./cmd/hstack
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version and Commit are variables, not constants, because -ldflags -X can
// only overwrite package-level string variables.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Info is the build identity; the JSON field names are part of the
// `hstack --json version` output contract.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
}

// Get returns the build identity. Values left at their defaults are filled
// from the Go build info when it has them, so that `go install ...@v1.2.3`
// and plain `go build` in a git checkout still report something useful
// without -ldflags.
func Get() Info {
	info := Info{
		Version:   Version,
		Commit:    Commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	if info.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		info.Version = bi.Main.Version
	}
	if info.Commit == "unknown" {
		var rev string
		var dirty bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			info.Commit = rev
		}
	}
	return info
}

// String renders the build identity on one line, e.g.
// "v1.2.3 (commit 0a1b2c3, go1.26.0 linux/amd64)".
func String() string {
	i := Get()
	return fmt.Sprintf("%s (commit %s, %s %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}
