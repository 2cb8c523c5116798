// Package scaling changes an app's instance count through Nomad's scale
// API, within the bounds of the group's scaling policy, and reads back the
// count, the bounds and the scaling events Nomad records for each change
// (by hstack, by hand or by the Nomad Autoscaler).
package scaling

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// BoundsError is a count outside the group's scaling policy.
type BoundsError struct {
	Job, Group string
	Count      int
	Min, Max   int64
}

func (e *BoundsError) Error() string {
	return fmt.Sprintf("%s group %s: count %d is outside its scaling policy's bounds [%d, %d]; change scaling { min, max } in the stack file and deploy to widen them",
		e.Job, e.Group, e.Count, e.Min, e.Max)
}

// UsageError is a request that cannot name a group of the job.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Change is a checked scale request.
type Change struct {
	Job, Group string
	From, To   int
	// Min and Max are the policy's bounds; nil when the group has none.
	Min, Max *int64
}

// Plan checks a request to run count instances of job's group: the group
// must exist (it may be left empty when the job has one group, or a group
// named like the job), and count must lie within its scaling policy. It is
// a pure function of the job Nomad returned.
func Plan(job *nomadapi.Job, group string, count int) (Change, error) {
	id := deref(job.ID)
	if count < 0 {
		return Change{}, &UsageError{fmt.Sprintf("count %d: a count is 0 or more", count)}
	}
	tg, err := pickGroup(job, group)
	if err != nil {
		return Change{}, err
	}
	c := Change{Job: id, Group: deref(tg.Name), To: count}
	if tg.Count != nil {
		c.From = *tg.Count
	}
	if p := tg.Scaling; p != nil {
		c.Min, c.Max = p.Min, p.Max
		min, max := int64(0), int64(^uint64(0)>>1)
		if p.Min != nil {
			min = *p.Min
		}
		if p.Max != nil {
			max = *p.Max
		}
		if int64(count) < min || int64(count) > max {
			return c, &BoundsError{Job: id, Group: c.Group, Count: count, Min: min, Max: max}
		}
	}
	return c, nil
}

func pickGroup(job *nomadapi.Job, group string) (*nomadapi.TaskGroup, error) {
	var names []string
	for _, tg := range job.TaskGroups {
		n := deref(tg.Name)
		names = append(names, n)
		if group != "" && n == group {
			return tg, nil
		}
	}
	sort.Strings(names)
	if group != "" {
		return nil, &UsageError{fmt.Sprintf("job %s has no group %q (groups: %s)", deref(job.ID), group, strings.Join(names, ", "))}
	}
	if len(job.TaskGroups) == 1 {
		return job.TaskGroups[0], nil
	}
	for _, tg := range job.TaskGroups {
		if deref(tg.Name) == deref(job.ID) {
			return tg, nil
		}
	}
	return nil, &UsageError{fmt.Sprintf("job %s has %d groups (%s): say which with --group", deref(job.ID), len(names), strings.Join(names, ", "))}
}

// Apply submits a checked change through the scale API. The reason is
// recorded as the scaling event's message, with who asked in its meta.
// It returns the evaluation Nomad created.
func Apply(ctx context.Context, nc *nomadapi.Client, c Change, reason string, meta map[string]any) (string, error) {
	n := int64(c.To)
	resp, _, err := nc.Jobs().ScaleWithRequest(c.Job, &nomadapi.ScalingRequest{
		Count:   &n,
		Target:  map[string]string{"Job": c.Job, "Group": c.Group},
		Message: reason,
		Meta:    meta,
	}, (&nomadapi.WriteOptions{}).WithContext(ctx))
	if err != nil {
		return "", err
	}
	return resp.EvalID, nil
}

// Event is one recorded change of a group's count.
type Event struct {
	Time    time.Time      `json:"time"`
	From    int64          `json:"from"`
	To      *int64         `json:"to,omitempty"`
	Error   bool           `json:"error,omitempty"`
	Message string         `json:"message"`
	Meta    map[string]any `json:"meta,omitempty"`
}

// GroupStatus is a group's count, bounds and last scaling events.
type GroupStatus struct {
	Group   string `json:"group"`
	Desired int    `json:"desired"`
	Running int    `json:"running"`
	Healthy int    `json:"healthy"`
	Min     *int64 `json:"min,omitempty"`
	Max     *int64 `json:"max,omitempty"`
	// Autoscaled is true when the group has an enabled scaling policy with
	// checks, i.e. the Nomad Autoscaler acts on it.
	Autoscaled bool `json:"autoscaled"`
	// Events are the newest first, at most the last n asked for.
	Events []Event `json:"events,omitempty"`
}

// ErrNoJob is returned by Status for a job Nomad does not have.
var ErrNoJob = errors.New("no such job")

// Status reads each group's scaling state, with its last n events.
func Status(ctx context.Context, nc *nomadapi.Client, jobID string, n int) ([]GroupStatus, error) {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	job, _, err := nc.Jobs().Info(jobID, q)
	if err != nil {
		var ue nomadapi.UnexpectedResponseError
		if errors.As(err, &ue) && ue.StatusCode() == 404 {
			return nil, fmt.Errorf("%s: %w", jobID, ErrNoJob)
		}
		return nil, err
	}
	ss, _, err := nc.Jobs().ScaleStatus(jobID, q)
	if err != nil {
		return nil, err
	}
	return Summarize(job, ss, n), nil
}

// Summarize joins a job and its scale status into GroupStatus, groups in
// the job's order, events newest first.
func Summarize(job *nomadapi.Job, ss *nomadapi.JobScaleStatusResponse, n int) []GroupStatus {
	var out []GroupStatus
	for _, tg := range job.TaskGroups {
		name := deref(tg.Name)
		g := GroupStatus{Group: name}
		if tg.Count != nil {
			g.Desired = *tg.Count
		}
		if p := tg.Scaling; p != nil {
			g.Min, g.Max = p.Min, p.Max
			g.Autoscaled = (p.Enabled == nil || *p.Enabled) && len(p.Policy) > 0
		}
		if ss != nil {
			if st, ok := ss.TaskGroups[name]; ok {
				g.Desired, g.Running, g.Healthy = st.Desired, st.Running, st.Healthy
				evs := append([]nomadapi.ScalingEvent(nil), st.Events...)
				sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time > evs[j].Time })
				for i, e := range evs {
					if i == n {
						break
					}
					g.Events = append(g.Events, Event{
						// #nosec G115 -- Nomad's nanoseconds since 1970: they fit an int64 until 2262.
						Time: time.Unix(0, int64(e.Time)).UTC(), From: e.PreviousCount, To: e.Count,
						Error: e.Error, Message: e.Message, Meta: e.Meta,
					})
				}
			}
		}
		out = append(out, g)
	}
	return out
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
