package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/clients"
	"github.com/hstack-dev/hstack/pkg/release"
	"github.com/hstack-dev/hstack/pkg/render"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/vaultdb"
)

// preflight checks every service the release of jobs depends on, before
// anything is registered, written to KV or synced: Nomad and Consul; Vault
// with the credential chain of every database the released apps use; and
// Prometheus when a rollout runs analyses. A problem exits 3, naming the
// service and the fix.
func preflight(c *cli.Context, st *stackfile.Stack, jobs []*render.Job, nc *nomadapi.Client, cc *consulapi.Client) error {
	cfg := ConfigFromContext(c)
	// Prometheus and the JWKS Nomad serves: the latter over Nomad's TLS.
	hc, err := clients.NomadHTTP(cfg, 10*time.Second)
	if err != nil {
		return &ExitError{Code: ExitUnreachable, Err: err}
	}
	p := release.Preflight{Nomad: nc, Consul: cc, HTTP: hc,
		KVPrefix: appconfig.StackPrefix(st.Name), NomadToken: cfg.Nomad.Token != "", ConsulToken: cfg.Consul.Token != ""}
	for _, j := range jobs {
		p.Jobs = append(p.Jobs, j.Job)
	}

	dbs := map[string]*stackfile.Database{}
	for _, j := range jobs {
		if a := st.App(j.Name); a != nil && j.Kind == render.KindApp && a.Database != nil {
			if db := st.Database(a.Database.Name); db != nil {
				dbs[db.Name] = db
			}
		}
	}
	if len(dbs) > 0 {
		vc, err := clients.Vault(ConfigFromContext(c))
		if err != nil {
			return &ExitError{Code: ExitUnreachable, Err: fmt.Errorf("preflight: vault: %w", err)}
		}
		p.Vault = vc
		for _, db := range st.Databases {
			p.Workload.DatabaseMounts = append(p.Workload.DatabaseMounts, db.VaultMount)
		}
		for _, db := range st.Databases {
			if dbs[db.Name] == nil {
				continue
			}
			eps, err := tfoutputs.EndpointsFor(c.Context, st, db, tfoutputs.Terraform{})
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: err}
			}
			s, err := vaultdb.SpecFor(db, vaultdb.Endpoint{Host: eps.Writer, Port: eps.Port})
			if err != nil {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("%s: %w", db.DeclRange, err)}
			}
			p.Specs = append(p.Specs, s)
		}
	}
	// Prometheus usually comes with the monitoring job this same release
	// may create; it is checked here only when it is not part of it. Not
	// finding it is reported after what Run finds: a token that may not
	// read the catalog is the cause to name first.
	var lookup *release.Problem
	_, apps := splitInfra(jobs)
	if needsPrometheus(st, apps) && !releasesMonitoring(jobs) {
		addr, err := prometheusAddr(c, cc)
		if err != nil {
			lookup = &release.Problem{Service: "prometheus", Check: "found", Detail: err.Error()}
		}
		p.Prometheus = addr
	}
	out := OutputFromContext(c)
	p.Note = func(format string, args ...any) { out.Linef(format, args...) }
	problems := p.Run(c.Context)
	if lookup != nil {
		problems = append(problems, *lookup)
	}
	if len(problems) == 0 {
		return nil
	}
	var lines []string
	for _, pr := range problems {
		lines = append(lines, pr.String())
		if out.JSON {
			if err := out.Emit(struct {
				Kind string `json:"kind"`
				release.Problem
			}{"preflight", pr}, ""); err != nil {
				return err
			}
		}
	}
	return &ExitError{Code: ExitUnreachable, Err: errors.New("preflight failed, nothing was registered (--skip-preflight to go ahead anyway):\n  " + strings.Join(lines, "\n  "))}
}

func releasesMonitoring(jobs []*render.Job) bool {
	for _, j := range jobs {
		if j.Kind == render.KindMonitoring {
			return true
		}
	}
	return false
}
