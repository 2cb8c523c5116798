package rollout

import (
	"context"
	"fmt"
	"io"
	"strings"

	nomadapi "github.com/hashicorp/nomad/api"
)

// stderrBytes is how much of an unhealthy task's stderr is shown: enough for
// a stack trace's head or the last log lines, little enough to read at 3 a.m.
const stderrBytes = 2048

// Inspection explains one unhealthy allocation.
type Inspection struct {
	AllocID string       `json:"alloc_id"`
	Group   string       `json:"group"`
	Node    string       `json:"node"`
	Status  string       `json:"client_status"`
	Tasks   []TaskReport `json:"tasks"`
}

// TaskReport is a task's events and the tail of its stderr.
type TaskReport struct {
	Name   string   `json:"name"`
	State  string   `json:"state"`
	Failed bool     `json:"failed"`
	Events []string `json:"events"`
	Stderr string   `json:"stderr,omitempty"`
}

// inspect reports on every allocation of the deployment that is not
// healthy, through the Nomad API (task events, and stderr via the client's
// file system API, proxied by the server).
func inspect(ctx context.Context, nomad *nomadapi.Client, deploymentID string) ([]Inspection, error) {
	q := (&nomadapi.QueryOptions{}).WithContext(ctx)
	stubs, _, err := nomad.Deployments().Allocations(deploymentID, q)
	if err != nil {
		return nil, err
	}
	var out []Inspection
	for _, stub := range stubs {
		healthy := stub.DeploymentStatus != nil && stub.DeploymentStatus.Healthy != nil && *stub.DeploymentStatus.Healthy
		if healthy {
			continue
		}
		alloc, _, err := nomad.Allocations().Info(stub.ID, q)
		if err != nil {
			return out, err
		}
		in := Inspection{AllocID: alloc.ID, Group: alloc.TaskGroup, Node: alloc.NodeName, Status: alloc.ClientStatus}
		for name, ts := range alloc.TaskStates {
			tr := TaskReport{Name: name, State: ts.State, Failed: ts.Failed}
			for _, ev := range ts.Events {
				msg := ev.DisplayMessage
				if msg == "" {
					msg = ev.Message
				}
				tr.Events = append(tr.Events, strings.TrimSpace(ev.Type+": "+msg))
			}
			tr.Stderr = tailStderr(ctx, nomad, alloc, name)
			in.Tasks = append(in.Tasks, tr)
		}
		out = append(out, in)
	}
	return out, nil
}

func tailStderr(ctx context.Context, nomad *nomadapi.Client, alloc *nomadapi.Allocation, task string) string {
	path := fmt.Sprintf("alloc/logs/%s.stderr.0", task)
	st, _, err := nomad.AllocFS().Stat(alloc, path, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return ""
	}
	off := st.Size - stderrBytes
	if off < 0 {
		off = 0
	}
	r, err := nomad.AllocFS().ReadAt(alloc, path, off, stderrBytes, (&nomadapi.QueryOptions{}).WithContext(ctx))
	if err != nil {
		return ""
	}
	defer r.Close()
	b, _ := io.ReadAll(io.LimitReader(r, stderrBytes))
	s := string(b)
	if off > 0 {
		// Drop the partial first line.
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			s = s[i+1:]
		}
	}
	return strings.TrimRight(s, "\n")
}

// Format renders an inspection for a terminal.
func (in Inspection) Format() string {
	var b strings.Builder
	fmt.Fprintf(&b, "allocation %s (group %s, node %s) is %s\n", ShortID(in.AllocID), in.Group, in.Node, in.Status)
	for _, t := range in.Tasks {
		fmt.Fprintf(&b, "  task %s: %s", t.Name, t.State)
		if t.Failed {
			b.WriteString(" (failed)")
		}
		b.WriteString("\n")
		for _, e := range lastN(t.Events, 6) {
			fmt.Fprintf(&b, "    event  %s\n", e)
		}
		if t.Stderr != "" {
			for _, l := range lastN(strings.Split(t.Stderr, "\n"), 10) {
				fmt.Fprintf(&b, "    stderr %s\n", l)
			}
		}
	}
	return b.String()
}

func lastN(s []string, n int) []string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// ShortID is the first eight characters of a Nomad ID, as Nomad's own
// CLI shows allocations, deployments and evaluations.
func ShortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
