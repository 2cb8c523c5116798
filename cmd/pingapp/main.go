// Command pingapp is the sample web application the hstack platform runs on
// Nomad. See package github.com/hstack-dev/hstack/pkg/pingapp for endpoints,
// flags, environment variables and fault injection.
package main

import (
	"context"
	"os"

	"github.com/hstack-dev/hstack/pkg/pingapp"
)

func main() {
	os.Exit(pingapp.Run(context.Background(), os.Args[1:], os.Getenv, os.Stderr))
}
