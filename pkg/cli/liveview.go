package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/hstack-dev/hstack/pkg/nomadui"
	"github.com/hstack-dev/hstack/pkg/rollout"
)

// eventView shows a release's events: one JSON object per line with
// --json; on a terminal a per-group table redrawn in place under the log of
// what happened; otherwise plain lines, one per event.
type eventView struct {
	out   *Output
	ui    nomadui.Links // where the links to the Nomad UI point
	mu    sync.Mutex
	table []string // the table currently drawn (TTY only)
	// latest holds each job's newest event with groups, so that apps
	// released at once each keep their rows in the table.
	latest map[string]rollout.Event
	order  []string
}

func newEventView(out *Output) *eventView {
	return &eventView{out: out, latest: map[string]rollout.Event{}}
}

func (v *eventView) Emit(e rollout.Event) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.out.JSON {
		b, _ := json.Marshal(struct {
			Kind string `json:"kind"`
			rollout.Event
			UI string `json:"ui,omitempty"`
		}{"event", e, eventLink(v.ui, e)})
		fmt.Fprintln(v.out.Stdout, string(b))
		return
	}
	link := eventLink(v.ui, e)
	if !v.out.TTY {
		fmt.Fprintln(v.out.Stdout, plainEvent(e))
		if link != "" {
			fmt.Fprintln(v.out.Stdout, "  Nomad UI: "+link)
		}
		return
	}
	v.clear()
	if e.Type != rollout.EventProgress || e.Message != "" && !strings.HasPrefix(e.Message, "Deployment is running") {
		fmt.Fprintln(v.out.Stdout, v.colored(e))
	}
	if link != "" {
		fmt.Fprintln(v.out.Stdout, "  Nomad UI: "+link)
	}
	if len(e.Groups) > 0 {
		if _, ok := v.latest[e.Job]; !ok {
			v.order = append(v.order, e.Job)
		}
		v.latest[e.Job] = e
	}
	if len(v.latest) > 0 {
		v.draw()
	}
}

// Note prints a line that is not an engine event (gate details).
func (v *eventView) Note(format string, args ...any) {
	v.mu.Lock()
	defer v.mu.Unlock()
	msg := fmt.Sprintf(format, args...)
	if v.out.JSON {
		b, _ := json.Marshal(map[string]string{"kind": "note", "message": msg})
		fmt.Fprintln(v.out.Stdout, string(b))
		return
	}
	v.clear()
	fmt.Fprintln(v.out.Stdout, "  "+msg)
	if v.out.TTY && len(v.table) > 0 {
		v.redraw()
	}
}

// Done leaves the last table on screen and starts the next afresh.
func (v *eventView) Done() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.table = nil
	v.latest, v.order = map[string]rollout.Event{}, nil
}

func (v *eventView) clear() {
	if len(v.table) == 0 {
		return
	}
	// Cursor up over the table, then erase to the end of the screen.
	fmt.Fprintf(v.out.Stdout, "\x1b[%dA\x1b[J", len(v.table))
}

// draw redraws the table: one block of rows per job in flight.
func (v *eventView) draw() {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  JOB\tVERSION\tDEPLOYMENT\tSTATUS\tGROUP\tDESIRED\tPLACED\tHEALTHY\tUNHEALTHY\tCANARIES")
	for _, job := range v.order {
		e := v.latest[job]
		for _, g := range e.Groups {
			canaries := "-"
			if g.DesiredCanaries > 0 {
				canaries = fmt.Sprintf("%d/%d", g.Canaries, g.DesiredCanaries)
				if g.Promoted {
					canaries += " promoted"
				}
			}
			fmt.Fprintf(tw, "  %s\tv%d\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", e.Job, e.JobVersion, rollout.ShortID(e.DeploymentID), e.Status,
				g.Name, g.Desired, g.Placed, g.Healthy, g.Unhealthy, canaries)
		}
	}
	_ = tw.Flush() // into a strings.Builder, which cannot fail
	v.table = strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	v.redraw()
}

func (v *eventView) redraw() {
	fmt.Fprintln(v.out.Stdout, strings.Join(v.table, "\n"))
}

func (v *eventView) colored(e rollout.Event) string {
	line := fmt.Sprintf("%-16s %s: %s", e.Type, e.Job, e.Message)
	switch e.Type {
	case rollout.EventSucceeded, rollout.EventPromoted, rollout.EventCanariesReady:
		return v.out.Green(line)
	case rollout.EventFailed, rollout.EventRolledBack, rollout.EventRollingBack, rollout.EventInspection, rollout.EventTaskEvent:
		return v.out.Red(line)
	case rollout.EventPaused, rollout.EventWarning:
		return v.out.Yellow(line)
	}
	return line
}

func plainEvent(e rollout.Event) string {
	var groups []string
	for _, g := range e.Groups {
		s := fmt.Sprintf("%s %d/%d healthy", g.Name, g.Healthy, g.Desired)
		if g.DesiredCanaries > 0 {
			s += fmt.Sprintf(", canaries %d/%d", g.Canaries, g.DesiredCanaries)
		}
		if g.Unhealthy > 0 {
			s += fmt.Sprintf(", %d unhealthy", g.Unhealthy)
		}
		groups = append(groups, s)
	}
	line := fmt.Sprintf("%s %s v%d %s", e.Time.Format("15:04:05"), e.Job, e.JobVersion, e.Type)
	if e.Status != "" {
		line += " [" + e.Status + "]"
	}
	if len(groups) > 0 {
		line += " " + strings.Join(groups, "; ")
	}
	if e.Message != "" {
		line += ": " + e.Message
	}
	return line
}
