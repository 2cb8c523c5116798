package rollout

import (
	"sort"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"
)

// EventType names what happened in a release.
type EventType string

const (
	EventSubmitted      EventType = "submitted"        // a new job version was registered
	EventAttached       EventType = "attached"         // an in-flight deployment of the same version was found
	EventNoChange       EventType = "no-change"        // the cluster already runs this version
	EventProgress       EventType = "progress"         // the deployment's counts changed
	EventCanariesReady  EventType = "canaries-healthy" // every canary is placed and healthy
	EventAnalysis       EventType = "analysis"         // a gate (smoke test, metric analysis) reported
	EventPaused         EventType = "paused"           // waiting for a human to promote
	EventPromoted       EventType = "promoted"         // canaries promoted
	EventSucceeded      EventType = "succeeded"        // the deployment completed
	EventFailed         EventType = "failed"           // the deployment failed
	EventRollingBack    EventType = "rolling-back"     // Nomad is reverting to the last stable version
	EventRolledBack     EventType = "rolled-back"      // the revert deployment completed
	EventInspection     EventType = "inspection"       // details of an unhealthy allocation
	EventTaskEvent      EventType = "task-event"       // why an allocation is in trouble, as it happens
	EventDeploymentSeen EventType = "deployment"       // the deployment to watch is known
	EventWarning        EventType = "warning"          // something hstack could not do that does not change the outcome
)

// GroupStatus is one task group's line in the live view.
type GroupStatus struct {
	Name            string `json:"name"`
	Desired         int    `json:"desired"`
	Placed          int    `json:"placed"`
	Healthy         int    `json:"healthy"`
	Unhealthy       int    `json:"unhealthy"`
	DesiredCanaries int    `json:"desired_canaries,omitempty"`
	Canaries        int    `json:"canaries,omitempty"`
	Promoted        bool   `json:"promoted,omitempty"`
}

// Event is one line of a release's story, for the live view, --json output
// and notifications.
type Event struct {
	Time         time.Time     `json:"time"`
	Type         EventType     `json:"type"`
	Job          string        `json:"job"`
	JobVersion   uint64        `json:"job_version"`
	DeploymentID string        `json:"deployment_id,omitempty"`
	Status       string        `json:"status,omitempty"` // Nomad's deployment status
	Message      string        `json:"message,omitempty"`
	Groups       []GroupStatus `json:"groups,omitempty"`
}

// Sink receives events. Implementations must not block for long.
type Sink interface {
	Emit(Event)
}

// SinkFunc adapts a function to a Sink.
type SinkFunc func(Event)

func (f SinkFunc) Emit(e Event) { f(e) }

func groupsOf(d *nomadapi.Deployment) []GroupStatus {
	if d == nil {
		return nil
	}
	var out []GroupStatus
	for name, s := range d.TaskGroups {
		out = append(out, GroupStatus{
			Name: name, Desired: s.DesiredTotal, Placed: s.PlacedAllocs,
			Healthy: s.HealthyAllocs, Unhealthy: s.UnhealthyAllocs,
			DesiredCanaries: s.DesiredCanaries, Canaries: len(s.PlacedCanaries), Promoted: s.Promoted,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
