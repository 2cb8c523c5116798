package cli

import (
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/rollout"
)

// flagNomadUIAddr is where the links hstack prints point, when the Nomad UI
// people open is not the API address hstack talks to (a proxy in front of
// the UI, a load balancer name instead of a node's).
const flagNomadUIAddr = "nomad-ui-addr"

func nomadUIAddrFlag() cli.Flag {
	return stringFlag(catNomad, flagNomadUIAddr, "HSTACK_NOMAD_UI_ADDR",
		"Nomad web UI `URL` for the links hstack prints (default: the Nomad address, whose agent serves the UI under /ui/)")
}

// nomadUI is where the links of a command go: --nomad-ui-addr, else the
// Nomad API address (--nomad-addr, NOMAD_ADDR, or Nomad's default), in the
// stack's namespace (or --nomad-namespace when namespace is "").
func nomadUI(c *cli.Context, namespace string) (nomadui.Links, error) {
	addr, flag := c.String(flagNomadUIAddr), flagNomadUIAddr
	if addr == "" {
		addr, flag = ConfigFromContext(c).Nomad.Address, flagNomadAddr
		if addr == "" {
			addr = nomadapi.DefaultConfig().Address
		}
	}
	if namespace == "" {
		namespace = c.String(flagNomadNamespace)
	}
	l, err := nomadui.New(addr, namespace)
	if err != nil {
		return l, UsageErrorf("invalid --%s: %v", flag, err)
	}
	return l, nil
}

// eventLink is the page of the Nomad UI that shows what an event is about:
// the deployment being followed, the job page with its "Promote Canary"
// button while a human must decide, the versions with their release tags
// once done. "" for events that need no link.
func eventLink(ui nomadui.Links, e rollout.Event) string {
	switch e.Type {
	case rollout.EventDeploymentSeen, rollout.EventAttached, rollout.EventFailed, rollout.EventRolledBack:
		return ui.Deployment(e.Job, e.DeploymentID)
	case rollout.EventPaused:
		return ui.Job(e.Job)
	case rollout.EventSucceeded:
		return ui.Versions(e.Job)
	}
	return ""
}

// resultLink is where a person looks at a release's outcome.
func resultLink(ui nomadui.Links, r rollout.Result) string {
	switch r.Outcome {
	case rollout.Waiting, rollout.NoChange:
		return ui.Job(r.Job)
	case rollout.Succeeded:
		return ui.Versions(r.Job)
	}
	return ui.Deployments(r.Job)
}
