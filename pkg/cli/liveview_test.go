package cli

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/rollout"
)

// Apps released at once each keep their rows; the reason an allocation is
// in trouble is a line of its own.
func TestLiveViewOneRowPerApp(t *testing.T) {
	var buf bytes.Buffer
	v := newEventView(&Output{Stdout: &buf, Stderr: &buf, TTY: true})
	group := func(healthy int) []rollout.GroupStatus {
		return []rollout.GroupStatus{{Name: "web", Desired: 2, Placed: 2, Healthy: healthy, DesiredCanaries: 1, Canaries: 1}}
	}
	v.Emit(rollout.Event{Type: rollout.EventProgress, Job: "a", JobVersion: 3, DeploymentID: "aaaaaaaa-1", Status: "running", Groups: group(0)})
	v.Emit(rollout.Event{Type: rollout.EventProgress, Job: "b", JobVersion: 7, DeploymentID: "bbbbbbbb-1", Status: "running", Groups: group(1)})
	v.Emit(rollout.Event{Type: rollout.EventTaskEvent, Job: "a", Message: "allocation 1234abcd (web): Template: Missing: kv.block(x)"})
	out := buf.String()
	last := out[strings.LastIndex(out, "\x1b[J")+len("\x1b[J"):]
	for _, want := range []string{"task-event       a: allocation 1234abcd (web): Template: Missing: kv.block(x)", "a    v3", "b    v7"} {
		if !strings.Contains(last, want) {
			t.Errorf("last screen lacks %q:\n%s", want, last)
		}
	}
	if n := strings.Count(last, "JOB"); n != 1 {
		t.Errorf("%d table headers:\n%s", n, last)
	}
}
