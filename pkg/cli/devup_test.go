package cli

import (
	"strings"
	"testing"
)

// TestDevUpRefusesBadClusterFlags: each is refused by name before anything
// starts (no stack directory is created).
func TestDevUpRefusesBadClusterFlags(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir() + "/stack"
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--clients", "3"}, "--clients needs --cluster"},
		{[]string{"--cluster-net", "127.0.1"}, "--cluster-net needs --cluster"},
		{[]string{"--cluster", "--cluster-net", "10.0.0"}, `--cluster-net: cluster network "10.0.0"`},
		{[]string{"--cluster", "--free-ports"}, "--free-ports does not apply to --cluster"},
	} {
		r := runApp(t, nil, append([]string{"dev", "up", "--dir", dir}, tc.args...)...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("dev up %v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, ExitUsage, tc.want)
		}
	}
}
