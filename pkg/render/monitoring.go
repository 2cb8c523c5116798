package render

import (
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/render/monitoring"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// monitoringJobs renders the monitoring jobs under the same local/prod
// rule as the ingress.
func monitoringJobs(st *stackfile.Stack, local bool, opts Options) ([]*nomadapi.Job, error) {
	return monitoring.Jobs(st, monitoring.Options{
		Local:          local,
		ConsulHTTPAddr: opts.ConsulHTTPAddr,
		NomadAddr:      opts.NomadAddr,
		VaultAddr:      opts.VaultAddr,
		Binaries:       opts.Binaries,
	})
}
