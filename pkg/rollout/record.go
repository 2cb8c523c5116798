package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/reqcount"
)

// Nomad forgets deployments: its deployment GC reaps terminal ones after
// deployment_gc_threshold (1h), and Nomad 1.11.3 reaps them at the first GC
// pass, about five minutes, because terminal status updates zero the
// deployment's ModifyTime (nomad#28210, fixed by nomad#28225). Without the
// deployment, `hstack history` cannot say whether a version failed. So
// after every operation hstack copies the outcome of each finished
// deployment into a Nomad Variable next to the job, where history finds it.

// ReleasesVariable is the Nomad Variable path holding a job's recorded
// deployment outcomes.
func ReleasesVariable(job string) string { return "hstack/releases/" + job }

// maxRecorded bounds the variable (Nomad caps one at 64 KiB); Nomad keeps
// far fewer job versions than this anyway.
const maxRecorded = 100

// recordedOutcome is one version's entry, keyed by the job version.
type recordedOutcome struct {
	Deployment  string `json:"deployment"`
	Status      string `json:"status"`
	Description string `json:"description,omitempty"`
}

// end records the outcomes and the request count of an operation.
func (e *engine) end(ctx context.Context) {
	e.remember(ctx)
	e.res.Requests = reqcount.Count(ctx)
}

// remember records the outcomes of the job's finished deployments. It is
// best-effort: a failure is reported as a note and never changes the
// operation's result.
func (e *engine) remember(ctx context.Context) {
	// Its own deadline: the operation's context may be why we are ending
	// (cancelled), but its request counter still counts.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := e.record(ctx); err != nil {
		e.emit(EventWarning, nil, "could not record deployment outcomes in Nomad variable %s: %v", ReleasesVariable(e.res.Job), err)
	}
}

func (e *engine) record(ctx context.Context) error {
	if e.res.Job == "" {
		return nil
	}
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	deps, _, err := e.nomad.Jobs().Deployments(e.res.Job, true, q)
	if err != nil {
		return err
	}
	path := ReleasesVariable(e.res.Job)
	v, _, err := e.nomad.Variables().Read(path, q)
	switch {
	case errors.Is(err, nomadapi.ErrVariablePathNotFound):
		v = &nomadapi.Variable{Path: path, Items: nomadapi.VariableItems{}}
	case err != nil:
		return err
	}
	changed := false
	for _, d := range deps {
		if !terminal(d) {
			continue
		}
		key := strconv.FormatUint(d.JobVersion, 10)
		if old, ok := v.Items[key]; ok {
			var o recordedOutcome
			// The newest deployment of a version wins, as in History.
			if json.Unmarshal([]byte(old), &o) == nil && o.Deployment == d.ID && o.Status == d.Status {
				continue
			}
		}
		b, err := json.Marshal(recordedOutcome{Deployment: d.ID, Status: d.Status, Description: d.StatusDescription})
		if err != nil {
			return err
		}
		v.Items[key] = string(b)
		changed = true
	}
	if !changed {
		return nil
	}
	trimRecorded(v.Items)
	wq := (&nomadapi.WriteOptions{}).WithContext(ctx)
	// Check-and-set: a concurrent hstack run recording the same job must
	// not lose this write silently; the next operation records again.
	if v.ModifyIndex == 0 {
		_, _, err = e.nomad.Variables().CheckedCreate(v, wq)
	} else {
		_, _, err = e.nomad.Variables().CheckedUpdate(v, wq)
	}
	return err
}

// trimRecorded keeps the newest maxRecorded versions.
func trimRecorded(items nomadapi.VariableItems) {
	if len(items) <= maxRecorded {
		return
	}
	versions := make([]uint64, 0, len(items))
	for k := range items {
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			delete(items, k)
			continue
		}
		versions = append(versions, n)
	}
	sort.Slice(versions, func(i, j int) bool { return versions[i] > versions[j] })
	for _, n := range versions[min(len(versions), maxRecorded):] {
		delete(items, strconv.FormatUint(n, 10))
	}
}

// recordedOutcomes reads what remember stored, by job version.
func recordedOutcomes(ctx context.Context, nomad *nomadapi.Client, job string) (map[uint64]recordedOutcome, error) {
	v, _, err := nomad.Variables().Read(ReleasesVariable(job), (&nomadapi.QueryOptions{}).WithContext(ctx))
	if errors.Is(err, nomadapi.ErrVariablePathNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ReleasesVariable(job), err)
	}
	out := map[uint64]recordedOutcome{}
	for k, s := range v.Items {
		n, err := strconv.ParseUint(k, 10, 64)
		if err != nil {
			continue
		}
		var o recordedOutcome
		if json.Unmarshal([]byte(s), &o) == nil {
			out[n] = o
		}
	}
	return out, nil
}

// The gate runs inside the hstack process that drives the release, but
// `hstack status` in another shell (or in CI, while a release waits for a
// human) should show what it found. So the gate's findings for the
// deployment it judges are kept in a Nomad Variable too.

// GateVariable is the Nomad Variable path holding the gate's findings for
// a job's most recently judged deployment.
func GateVariable(job string) string { return "hstack/gate/" + job }

// SaveGateNotes stores the gate's findings so far for deploymentID,
// replacing those of any earlier deployment.
func SaveGateNotes(ctx context.Context, nomad *nomadapi.Client, job, deploymentID string, notes []string) error {
	v := &nomadapi.Variable{Path: GateVariable(job), Items: nomadapi.VariableItems{
		"deployment": deploymentID,
		"notes":      strings.Join(notes, "\n"),
		"updated":    time.Now().UTC().Format(time.RFC3339),
	}}
	_, _, err := nomad.Variables().Update(v, (&nomadapi.WriteOptions{}).WithContext(ctx))
	return err
}

// GateNotes returns the gate's findings for deploymentID, or nil when the
// gate has not judged that deployment.
func GateNotes(ctx context.Context, nomad *nomadapi.Client, job, deploymentID string) ([]string, error) {
	v, _, err := nomad.Variables().Read(GateVariable(job), (&nomadapi.QueryOptions{}).WithContext(ctx))
	if errors.Is(err, nomadapi.ErrVariablePathNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if v.Items["deployment"] != deploymentID || v.Items["notes"] == "" {
		return nil, nil
	}
	return strings.Split(v.Items["notes"], "\n"), nil
}
