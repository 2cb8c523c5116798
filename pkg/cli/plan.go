package cli

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/dustin/go-humanize/english"
	nomadapi "github.com/hashicorp/nomad/api"
	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/render"
)

func planCommand() *cli.Command {
	return &cli.Command{
		Name:  "plan",
		Usage: "show what deploying the stack would change in Nomad",
		Description: "Renders the stack's jobs as render and deploy do and asks Nomad to plan each one\n" +
			"(a scheduler dry run, nothing is changed): whether the job would be created or\n" +
			"updated, in place or by replacing allocations, and per task group how many\n" +
			"allocations would be placed, updated, replaced, stopped or started as canaries.\n\n" +
			"Exit codes: 0 no changes, 1 changes, 2 invalid stack file or flags, or a job Nomad\n" +
			"rejects, 3 Nomad unreachable or denied. Unlike 'nomad job plan', a change that only\n" +
			"updates allocations in place also exits 1: the cluster differs from the stack file.",
		Flags:  append(stackFlags(), renderFlags()...),
		Action: planAction,
	}
}

// jobPlan is the --json output, one object per job.
type jobPlan struct {
	Job  string `json:"job"`
	Kind string `json:"kind"`
	// Change is create, update or none; Destructive is true when an update
	// replaces allocations instead of updating them in place.
	Change      string      `json:"change"`
	Destructive bool        `json:"destructive"`
	Groups      []groupPlan `json:"groups"`
	// Fields are the changed fields of an updated job, paths like
	// "group pingapp/task pingapp/config/image".
	Fields []fieldChange `json:"fields,omitempty"`
	// PlacementFailures says per group why Nomad could not place
	// allocations (no node with the driver, resources exhausted, ...).
	PlacementFailures map[string]string `json:"placement_failures,omitempty"`
	Warnings          string            `json:"warnings,omitempty"`
}

type groupPlan struct {
	Name        string `json:"name"`
	Change      string `json:"change"`
	Place       uint64 `json:"place"`
	InPlace     uint64 `json:"in_place_update"`
	Destructive uint64 `json:"destructive_update"`
	Canary      uint64 `json:"canary"`
	Stop        uint64 `json:"stop"`
	Migrate     uint64 `json:"migrate"`
	Unchanged   uint64 `json:"unchanged"`
}

type fieldChange struct {
	Path string `json:"path"`
	Type string `json:"type"` // Added, Deleted, Edited
	Old  string `json:"old,omitempty"`
	New  string `json:"new,omitempty"`
}

func planAction(c *cli.Context) error {
	_, jobs, err := renderStack(c)
	if err != nil {
		return err
	}
	nc, err := nomadClient(c)
	if err != nil {
		return err
	}
	out := OutputFromContext(c)
	changed := 0
	for _, j := range jobs {
		q := &nomadapi.WriteOptions{Namespace: deref(j.Job.Namespace), Region: deref(j.Job.Region)}
		resp, _, err := nc.Jobs().Plan(j.Job, true, q.WithContext(c.Context))
		if err != nil {
			// Reachable but refused: the rendered job is bad input.
			return apiFailure(fmt.Errorf("plan of job %q: %w", j.Name, err), ExitUsage)
		}
		p := summarize(j, resp)
		if p.Change != "none" {
			changed++
		}
		if out.JSON {
			if err := out.Emit(p, ""); err != nil {
				return err
			}
			continue
		}
		printPlan(out, p)
	}
	if changed > 0 {
		out.Linef("%s of %d would change.", english.Plural(changed, "job", ""), len(jobs))
		// No message: the plan above is the explanation; 1 only says so.
		return &ExitError{Code: ExitChanges}
	}
	out.Linef("No changes: %s up to date.", english.Plural(len(jobs), "job", ""))
	return nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var changeOf = map[string]string{"Added": "create", "Edited": "update", "Deleted": "destroy", "None": "none", "": "none"}

func summarize(j *render.Job, resp *nomadapi.JobPlanResponse) jobPlan {
	p := jobPlan{Job: j.Name, Kind: j.Kind, Change: "none", Groups: []groupPlan{}, Warnings: strings.TrimSpace(resp.Warnings)}
	var tgDiffs map[string]*nomadapi.TaskGroupDiff
	if d := resp.Diff; d != nil {
		p.Change = changeOf[d.Type]
		tgDiffs = map[string]*nomadapi.TaskGroupDiff{}
		for _, tg := range d.TaskGroups {
			tgDiffs[tg.Name] = tg
		}
		if d.Type == "Edited" {
			p.Fields = jobFieldChanges(d)
		}
	}
	var updates map[string]*nomadapi.DesiredUpdates
	if resp.Annotations != nil {
		updates = resp.Annotations.DesiredTGUpdates
	}
	for _, tg := range j.Job.TaskGroups {
		g := groupPlan{Name: deref(tg.Name), Change: "none"}
		if d := tgDiffs[g.Name]; d != nil {
			g.Change = changeOf[d.Type]
		}
		if u := updates[g.Name]; u != nil {
			g.Place, g.InPlace, g.Destructive = u.Place, u.InPlaceUpdate, u.DestructiveUpdate
			g.Canary, g.Stop, g.Migrate, g.Unchanged = u.Canary, u.Stop, u.Migrate, u.Ignore
		}
		if g.Destructive > 0 || g.Canary > 0 {
			p.Destructive = true
		}
		p.Groups = append(p.Groups, g)
	}
	for name, m := range resp.FailedTGAllocs {
		if p.PlacementFailures == nil {
			p.PlacementFailures = map[string]string{}
		}
		p.PlacementFailures[name] = placementFailure(m)
	}
	return p
}

// placementFailure condenses Nomad's allocation metrics into one line, the
// essentials of what `nomad job plan` prints.
func placementFailure(m *nomadapi.AllocationMetric) string {
	if m == nil {
		return "cannot be placed"
	}
	var why []string
	if m.NodesEvaluated == 0 {
		why = append(why, "no node in the job's datacenters and node pool")
	}
	for _, k := range slices.Sorted(maps.Keys(m.ConstraintFiltered)) {
		why = append(why, fmt.Sprintf("constraint %s filtered %d node(s)", k, m.ConstraintFiltered[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(m.ClassFiltered)) {
		why = append(why, fmt.Sprintf("class %s filtered %d node(s)", k, m.ClassFiltered[k]))
	}
	for _, k := range slices.Sorted(maps.Keys(m.DimensionExhausted)) {
		why = append(why, fmt.Sprintf("%s exhausted on %d node(s)", k, m.DimensionExhausted[k]))
	}
	if m.CoalescedFailures > 0 {
		why = append(why, fmt.Sprintf("%d more allocation(s) failed the same way", m.CoalescedFailures))
	}
	if len(why) == 0 {
		return "cannot be placed"
	}
	return strings.Join(why, "; ")
}

// jobFieldChanges flattens an edited job's diff into field paths.
func jobFieldChanges(d *nomadapi.JobDiff) []fieldChange {
	var out []fieldChange
	walkFields(&out, "", d.Fields, d.Objects)
	for _, tg := range d.TaskGroups {
		if tg.Type == "None" {
			continue
		}
		prefix := "group " + tg.Name + "/"
		if tg.Type != "Edited" {
			out = append(out, fieldChange{Path: strings.TrimSuffix(prefix, "/"), Type: tg.Type})
			continue
		}
		walkFields(&out, prefix, tg.Fields, tg.Objects)
		for _, t := range tg.Tasks {
			if t.Type == "None" {
				continue
			}
			tp := prefix + "task " + t.Name + "/"
			if t.Type != "Edited" {
				out = append(out, fieldChange{Path: strings.TrimSuffix(tp, "/"), Type: t.Type})
				continue
			}
			walkFields(&out, tp, t.Fields, t.Objects)
		}
	}
	return out
}

func walkFields(out *[]fieldChange, prefix string, fields []*nomadapi.FieldDiff, objects []*nomadapi.ObjectDiff) {
	for _, f := range fields {
		if f.Type == "None" {
			continue
		}
		*out = append(*out, fieldChange{Path: prefix + f.Name, Type: f.Type, Old: f.Old, New: f.New})
	}
	for _, o := range objects {
		if o.Type == "None" {
			continue
		}
		walkFields(out, prefix+o.Name+"/", o.Fields, o.Objects)
	}
}

var planSymbol = map[string]string{"create": "+", "update": "~", "destroy": "-", "none": "="}

func printPlan(out *Output, p jobPlan) {
	paint := map[string]func(string) string{"create": out.Green, "update": out.Yellow, "destroy": out.Red, "none": func(s string) string { return s }}[p.Change]
	what := map[string]string{"create": "create", "update": "update in place", "destroy": "destroy", "none": "no changes"}[p.Change]
	if p.Change == "update" && p.Destructive {
		what = "update, replacing allocations"
	}
	out.Linef("%s %s (%s): %s", paint(planSymbol[p.Change]), out.Bold(p.Job), p.Kind, what)
	// For an unchanged job the scheduler's counts are noise: a system job,
	// for one, is always annotated with a placement per node.
	if p.Change != "none" {
		for _, g := range p.Groups {
			if counts := groupCounts(g); counts != "" {
				out.Linef("    group %q: %s", g.Name, counts)
			}
		}
	}
	for _, f := range p.Fields {
		switch f.Type {
		case "Added":
			out.Linef("    + %s: %q", f.Path, f.New)
		case "Deleted":
			out.Linef("    - %s: %q", f.Path, f.Old)
		default:
			out.Linef("    ~ %s: %q => %q", f.Path, f.Old, f.New)
		}
	}
	for _, g := range slices.Sorted(maps.Keys(p.PlacementFailures)) {
		out.Linef("    %s group %q cannot be placed: %s", out.Yellow("!"), g, p.PlacementFailures[g])
	}
	for _, w := range warningLines(p.Warnings) {
		out.Linef("    %s %s", out.Yellow("warning:"), w)
	}
}

func groupCounts(g groupPlan) string {
	var parts []string
	for _, c := range []struct {
		n    uint64
		what string
	}{
		{g.Place, "to place"}, {g.Canary, "canary"}, {g.Destructive, "to replace"},
		{g.InPlace, "to update in place"}, {g.Stop, "to stop"}, {g.Migrate, "to migrate"},
		{g.Unchanged, "unchanged"},
	} {
		if c.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
		}
	}
	return strings.Join(parts, ", ")
}

// warningLines splits Nomad's multierror text ("1 warning:\n\n* a\n* b")
// into its items.
func warningLines(w string) []string {
	var out []string
	for _, l := range strings.Split(w, "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasSuffix(l, " warning:") || strings.HasSuffix(l, " warnings:") {
			continue
		}
		out = append(out, strings.TrimPrefix(l, "* "))
	}
	return out
}
