package devstack

import (
	"context"

	"github.com/hstack-dev/hstack/pkg/pgserver"
)

func (s *Stack) pg() *pgserver.Server {
	return &pgserver.Server{
		BinDir:   s.pgBinDir,
		Dir:      s.path("postgres"),
		Port:     s.Ports.Postgres,
		Password: s.state.PGPassword,
		LogPath:  s.path("logs", "postgres.log"),
	}
}

func (s *Stack) pgPID() int                        { return s.pg().PID() }
func (s *Stack) pgReady(ctx context.Context) error { return s.pg().Ready(ctx) }

// SuperuserURL is the connection URL of the stack's postgres superuser. It
// carries the password: hand it to Vault, never to a log.
func (s *Stack) SuperuserURL() string { return s.pg().SuperuserURL() }
