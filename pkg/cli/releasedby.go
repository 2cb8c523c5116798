package cli

import (
	"context"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/render"
)

// metaReleasedBy is the app job's meta key naming who released its current
// version, shown with the other hstack_ keys on the job's page in the
// Nomad UI.
const metaReleasedBy = "hstack_released_by"

// carryReleasedBy copies who released the running version into j, so that
// an unchanged release stays unchanged: a different person running the same
// deploy must not make a new job version (job meta reaches every task, so
// Nomad would replace every instance) just because of their name.
func carryReleasedBy(ctx context.Context, nc *nomadapi.Client, j *render.Job) {
	if j.Kind != render.KindApp {
		return
	}
	cur, _, err := nc.Jobs().Info(j.Name, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil || cur.Meta[metaReleasedBy] == "" {
		return // a first release, or Nomad unreachable: the plan says which
	}
	setMeta(j.Job, metaReleasedBy, cur.Meta[metaReleasedBy])
}

// markReleasedBy records who releases j when the plan shows that something
// changes.
func markReleasedBy(j *render.Job, plan *nomadapi.JobPlanResponse, who string) {
	if j.Kind != render.KindApp || plan == nil || plan.Diff == nil || plan.Diff.Type == "None" {
		return
	}
	setMeta(j.Job, metaReleasedBy, who)
}

func setMeta(job *nomadapi.Job, k, v string) {
	if job.Meta == nil {
		job.Meta = map[string]string{}
	}
	job.Meta[k] = v
}
