// Command hstack runs and operates a Nomad, Consul and Vault stack.
package main

import (
	"os"

	"github.com/hstack-dev/hstack/pkg/cli"
)

func main() {
	os.Exit(cli.Main(os.Args))
}
