// Package nomadfake is a small in-process Nomad for unit tests: the HTTP
// endpoints hstack's release engine uses (jobs, plan, versions, revert,
// stable, version tags, deployments, allocations, variables), served at the
// transport of a real nomadapi.Client, with Nomad's blocking-query
// semantics (X-Nomad-Index, the index and wait parameters).
//
// The fake also plays the cluster, deterministically: each blocking query
// that finds nothing new lets "time pass" by one step (an allocation placed,
// an allocation turning healthy or unhealthy, a canary set auto-promoted, a
// deployment finishing, Nomad's auto-revert), so a test needs no sleeps and
// sees every intermediate state the engine would see. What each job
// version's allocations do is the test's choice (Behave).
//
// It is a test double, not an emulator: it knows as much of Nomad's
// deployment watcher as the release engine relies on, and the integration
// tests prove the same behaviour against real Nomad.
package nomadfake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/reqcount"
)

// Health is what a job version's allocations do once placed.
type Health struct {
	// Unhealthy allocations fail their checks; Nomad replaces each, and
	// the deployment fails once its progress deadline (here: two
	// replacements more than wanted) has passed.
	Unhealthy bool
	// Pending allocations never get a health verdict: the deployment runs
	// until something (a test, the engine) ends it. With Event, their
	// tasks report it once, as a task stuck before starting does.
	Pending bool
	// Event is the newest task event of an unhealthy allocation, "Type:
	// message" (default "Restart Within Policy: exit code 1").
	Event string
}

// Behaviour decides, per job version and task group, what allocations do.
type Behaviour func(job *nomadapi.Job, group string) Health

// Fake is one fake Nomad.
type Fake struct {
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every change
	index   uint64
	ids     int

	jobs   map[string][]*nomadapi.Job // versions, oldest first
	deps   []*nomadapi.Deployment
	allocs []*nomadapi.Allocation
	vars   map[string]*nomadapi.Variable
	breaks []breakage
	behave Behaviour
	// requests logs "METHOD path" of every request, in order.
	requests []string
}

type breakage struct {
	method string
	path   *regexp.Regexp
	status int
}

// New returns an empty fake Nomad in which every allocation turns healthy.
func New() *Fake {
	return &Fake{
		changed: make(chan struct{}),
		index:   1,
		jobs:    map[string][]*nomadapi.Job{},
		vars:    map[string]*nomadapi.Variable{},
		behave:  func(*nomadapi.Job, string) Health { return Health{} },
	}
}

// Address is what the client is configured with; no socket is opened.
const Address = "http://nomad.fake:4646"

// Client returns a Nomad API client whose requests this fake serves,
// counted per context like hstack's own clients (pkg/reqcount).
func (f *Fake) Client() *nomadapi.Client {
	c, err := nomadapi.NewClient(&nomadapi.Config{
		Address:    Address,
		HttpClient: reqcount.Wrap(&http.Client{Transport: f}),
	})
	if err != nil {
		panic(err) // only for a malformed Address
	}
	return c
}

// Behave sets what allocations do from now on.
func (f *Fake) Behave(b Behaviour) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.behave = b
}

// ByVersion is a Behaviour keyed by the job's meta "version": versions not
// listed are healthy.
func ByVersion(m map[string]Health) Behaviour {
	return func(j *nomadapi.Job, _ string) Health { return m[j.Meta["version"]] }
}

// Break makes every later request whose method and path match answer with
// status (500 when 0), as an unreachable or failing Nomad would.
func (f *Fake) Break(method, pathPattern string, status int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if status == 0 {
		status = http.StatusInternalServerError
	}
	f.breaks = append(f.breaks, breakage{method, regexp.MustCompile(pathPattern), status})
}

// Requests returns "METHOD /path" for every request served so far.
func (f *Fake) Requests() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.requests...)
}

// RoundTrip implements http.RoundTripper.
// As net/http's transport does, a request whose context is done fails
// with the context's error, also when it ends a blocking query: a caller
// that is cancelled must see it, not an answer with nothing new.
func (f *Fake) RoundTrip(r *http.Request) (*http.Response, error) {
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	rec := httptest.NewRecorder()
	f.serve(rec, r)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// Jobs returns the versions of job, oldest first (copies).
func (f *Fake) Jobs(job string) []*nomadapi.Job {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*nomadapi.Job
	for _, j := range f.jobs[job] {
		out = append(out, clone(j))
	}
	return out
}

// Deployments returns every deployment, oldest first (copies).
func (f *Fake) Deployments() []*nomadapi.Deployment {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*nomadapi.Deployment
	for _, d := range f.deps {
		out = append(out, clone(d))
	}
	return out
}

// Variable returns the variable at path, or nil.
func (f *Fake) Variable(path string) *nomadapi.Variable {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.vars[path]; v != nil {
		return clone(v)
	}
	return nil
}

// PutVariable stores a variable as a test's precondition.
func (f *Fake) PutVariable(v *nomadapi.Variable) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v = clone(v)
	v.ModifyIndex = f.bump()
	f.vars[v.Path] = v
}

// Register stores job as its next version, exactly as a `nomad job run`
// by someone else would, and starts its deployment. It returns the version.
func (f *Fake) Register(job *nomadapi.Job) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *f.register(clone(job)).Version
}

// Settle lets time pass until nothing changes any more: every deployment
// has finished or waits for a human.
func (f *Fake) Settle() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < 10000 && f.advance(); i++ {
	}
}

// bump records a change and wakes blocking queries.
func (f *Fake) bump() uint64 {
	f.index++
	close(f.changed)
	f.changed = make(chan struct{})
	return f.index
}

func (f *Fake) id() string {
	f.ids++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", f.ids, f.ids)
}

// --- HTTP -----------------------------------------------------------------

var (
	reJob        = regexp.MustCompile(`^/v1/job/([^/]+)$`)
	reJobSub     = regexp.MustCompile(`^/v1/job/([^/]+)/(plan|versions|deployments|deployment|allocations|revert|stable)$`)
	reJobTag     = regexp.MustCompile(`^/v1/job/([^/]+)/versions/([^/]+)/tag$`)
	reDeployment = regexp.MustCompile(`^/v1/deployment/([^/]+)$`)
	reDepOp      = regexp.MustCompile(`^/v1/deployment/(fail|promote|allocations)/([^/]+)$`)
	reAlloc      = regexp.MustCompile(`^/v1/allocation/([^/]+)$`)
	reVar        = regexp.MustCompile(`^/v1/var/(.+)$`)
)

func (f *Fake) serve(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+path)
	for _, b := range f.breaks {
		if b.method == r.Method && b.path.MatchString(path) {
			http.Error(w, "nomadfake: injected failure", b.status)
			return
		}
	}
	if r.Method == http.MethodGet {
		// Watching a deployment's allocations only waits: time passes for
		// whoever follows the deployment itself, so a second watcher
		// cannot make the engine miss a state.
		f.block(r, !strings.HasPrefix(path, "/v1/deployment/allocations/"))
	}
	w.Header().Set("X-Nomad-LastContact", "0")
	w.Header().Set("X-Nomad-KnownLeader", "true")
	reply := func(v any) {
		w.Header().Set("X-Nomad-Index", strconv.FormatUint(f.index, 10))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	fail := func(status int, format string, args ...any) {
		w.Header().Set("X-Nomad-Index", strconv.FormatUint(f.index, 10))
		http.Error(w, fmt.Sprintf(format, args...), status)
	}
	decode := func(v any) bool {
		if err := json.NewDecoder(r.Body).Decode(v); err != nil {
			fail(http.StatusBadRequest, "decoding body: %v", err)
			return false
		}
		return true
	}

	switch m := match(path); {
	case r.Method == http.MethodPut && path == "/v1/jobs":
		var req nomadapi.JobRegisterRequest
		if !decode(&req) {
			return
		}
		cur := f.latest(*req.Job.ID)
		if req.EnforceIndex && jobModifyIndex(cur) != req.JobModifyIndex {
			fail(http.StatusBadRequest, "Enforcing job modify index %d: job exists with conflicting job modify index: %d", req.JobModifyIndex, jobModifyIndex(cur))
			return
		}
		j := f.register(req.Job)
		reply(nomadapi.JobRegisterResponse{JobModifyIndex: *j.JobModifyIndex, EvalID: f.id()})

	case r.Method == http.MethodGet && path == "/v1/jobs":
		out := []*nomadapi.JobListStub{}
		for id, vs := range f.jobs {
			j := vs[len(vs)-1]
			out = append(out, &nomadapi.JobListStub{ID: id, Name: id, JobModifyIndex: *j.JobModifyIndex, Status: *j.Status})
		}
		reply(out)

	case m.re == reJob && r.Method == http.MethodGet:
		j := f.latest(m.args[0])
		if j == nil {
			fail(http.StatusNotFound, "job not found")
			return
		}
		reply(j)

	case m.re == reJobSub:
		f.jobSub(r, m.args[0], m.args[1], reply, fail, decode)

	case m.re == reJobTag && r.Method == http.MethodPut:
		var req nomadapi.TagVersionRequest
		if !decode(&req) {
			return
		}
		var target *nomadapi.Job
		for _, j := range f.jobs[m.args[0]] {
			if j.VersionTag != nil && j.VersionTag.Name == m.args[1] {
				fail(http.StatusBadRequest, "tag %q already exists on a different version of job %q", m.args[1], m.args[0])
				return
			}
			if *j.Version == req.Version {
				target = j
			}
		}
		if target == nil {
			fail(http.StatusNotFound, "job version not found")
			return
		}
		target.VersionTag = &nomadapi.JobVersionTag{Name: m.args[1], Description: req.Description, TaggedTime: time.Now().UnixNano()}
		f.bump()
		reply(struct{}{})

	case m.re == reDeployment && r.Method == http.MethodGet:
		d := f.deployment(m.args[0])
		if d == nil {
			fail(http.StatusNotFound, "deployment not found")
			return
		}
		reply(d)

	case m.re == reDepOp:
		d := f.deployment(m.args[1])
		if d == nil {
			fail(http.StatusNotFound, "deployment not found")
			return
		}
		switch m.args[0] {
		case "allocations":
			var out []*nomadapi.AllocationListStub
			for _, a := range f.allocs {
				if a.DeploymentID == d.ID {
					out = append(out, stub(a))
				}
			}
			reply(out)
		case "fail":
			if terminal(d) {
				fail(http.StatusBadRequest, "can't fail terminal deployment")
				return
			}
			f.fail(d, "Deployment marked as failed")
			reply(nomadapi.DeploymentUpdateResponse{EvalID: f.id(), DeploymentModifyIndex: f.index})
		case "promote":
			var req nomadapi.DeploymentPromoteRequest
			if !decode(&req) {
				return
			}
			if d.Status != nomadapi.DeploymentStatusRunning {
				fail(http.StatusBadRequest, "can't promote terminal deployment")
				return
			}
			for name, s := range d.TaskGroups {
				if s.DesiredCanaries == 0 || !(req.All || slices.Contains(req.Groups, name)) {
					continue
				}
				if s.HealthyAllocs < s.DesiredCanaries {
					fail(http.StatusBadRequest, "Task group %q has %d/%d healthy allocations", name, s.HealthyAllocs, s.DesiredCanaries)
					return
				}
			}
			f.promote(d, req.All, req.Groups)
			reply(nomadapi.DeploymentUpdateResponse{EvalID: f.id(), DeploymentModifyIndex: f.index})
		}

	case m.re == reAlloc && r.Method == http.MethodGet:
		for _, a := range f.allocs {
			if a.ID == m.args[0] {
				reply(a)
				return
			}
		}
		fail(http.StatusNotFound, "alloc not found")

	case m.re == reVar:
		f.variable(r, m.args[0], reply, fail, decode, w)

	default:
		// Everything else (client file system, node lookups) is not
		// served: the engine treats those as best effort.
		fail(http.StatusNotFound, "nomadfake: no such endpoint %s %s", r.Method, path)
	}
}

type matched struct {
	re   *regexp.Regexp
	args []string
}

func match(path string) matched {
	for _, re := range []*regexp.Regexp{reJobTag, reJobSub, reJob, reDepOp, reDeployment, reAlloc, reVar} {
		if m := re.FindStringSubmatch(path); m != nil {
			return matched{re, m[1:]}
		}
	}
	return matched{}
}

// block implements a blocking query: with index=N it returns once the
// state is newer than N or the wait has passed. Finding nothing new first
// lets time pass by one step.
func (f *Fake) block(r *http.Request, advance bool) {
	idx, _ := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
	if idx == 0 || f.index > idx {
		return
	}
	if advance {
		f.advance()
	}
	wait := 5 * time.Minute
	if d, err := time.ParseDuration(r.URL.Query().Get("wait")); err == nil {
		wait = d
	}
	deadline := time.After(wait)
	for f.index <= idx {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
			f.mu.Lock()
		case <-deadline:
			f.mu.Lock()
			return
		case <-r.Context().Done():
			f.mu.Lock()
			return
		}
	}
}

func (f *Fake) jobSub(r *http.Request, id, op string, reply func(any), fail func(int, string, ...any), decode func(any) bool) {
	versions := f.jobs[id]
	switch {
	case op == "plan" && r.Method == http.MethodPut:
		var req nomadapi.JobPlanRequest
		if !decode(&req) {
			return
		}
		cur := f.latest(id)
		typ := "Added"
		if cur != nil {
			typ = "Edited"
			if sameSpec(cur, req.Job) {
				typ = "None"
			}
		}
		reply(nomadapi.JobPlanResponse{JobModifyIndex: jobModifyIndex(cur), Diff: &nomadapi.JobDiff{Type: typ, ID: id}})
	case len(versions) == 0 && op != "deployments" && op != "allocations" && op != "deployment":
		fail(http.StatusNotFound, "job not found")
	case op == "versions" && r.Method == http.MethodGet:
		var out []*nomadapi.Job
		for i := len(versions) - 1; i >= 0; i-- {
			out = append(out, versions[i])
		}
		reply(nomadapi.JobVersionsResponse{Versions: out})
	case op == "deployments" && r.Method == http.MethodGet:
		out := []*nomadapi.Deployment{}
		for i := len(f.deps) - 1; i >= 0; i-- {
			if f.deps[i].JobID == id {
				out = append(out, f.deps[i])
			}
		}
		reply(out)
	case op == "deployment" && r.Method == http.MethodGet:
		var latest *nomadapi.Deployment
		for _, d := range f.deps {
			if d.JobID == id {
				latest = d
			}
		}
		reply(latest)
	case op == "allocations" && r.Method == http.MethodGet:
		out := []*nomadapi.AllocationListStub{}
		for _, a := range f.allocs {
			if a.JobID == id {
				out = append(out, stub(a))
			}
		}
		reply(out)
	case op == "revert" && r.Method == http.MethodPut:
		var req nomadapi.JobRevertRequest
		if !decode(&req) {
			return
		}
		cur := versions[len(versions)-1]
		if req.EnforcePriorVersion != nil && *req.EnforcePriorVersion != *cur.Version {
			fail(http.StatusBadRequest, "Current job has version %d; enforcing version %d", *cur.Version, *req.EnforcePriorVersion)
			return
		}
		if req.JobVersion == *cur.Version {
			fail(http.StatusBadRequest, "can't revert to current version")
			return
		}
		target := f.version(id, req.JobVersion)
		if target == nil {
			fail(http.StatusBadRequest, "job %q at version %d not found", id, req.JobVersion)
			return
		}
		j := f.register(clone(target))
		reply(nomadapi.JobRegisterResponse{JobModifyIndex: *j.JobModifyIndex, EvalID: f.id()})
	case op == "stable" && r.Method == http.MethodPut:
		var req nomadapi.JobStabilityRequest
		if !decode(&req) {
			return
		}
		j := f.version(id, req.JobVersion)
		if j == nil {
			fail(http.StatusNotFound, "job version not found")
			return
		}
		j.Stable = ptr(req.Stable)
		f.bump()
		reply(nomadapi.JobStabilityResponse{JobModifyIndex: *j.JobModifyIndex})
	default:
		fail(http.StatusMethodNotAllowed, "nomadfake: %s %s", r.Method, r.URL.Path)
	}
}

func (f *Fake) variable(r *http.Request, path string, reply func(any), fail func(int, string, ...any), decode func(any) bool, w http.ResponseWriter) {
	switch r.Method {
	case http.MethodGet:
		v := f.vars[path]
		if v == nil {
			fail(http.StatusNotFound, "variable not found")
			return
		}
		reply(v)
	case http.MethodPut:
		var in nomadapi.Variable
		if !decode(&in) {
			return
		}
		cur := f.vars[path]
		if cas := r.URL.Query().Get("cas"); cas != "" {
			want, _ := strconv.ParseUint(cas, 10, 64)
			have := uint64(0)
			if cur != nil {
				have = cur.ModifyIndex
			}
			if want != have {
				w.Header().Set("X-Nomad-Index", strconv.FormatUint(f.index, 10))
				w.WriteHeader(http.StatusConflict)
				_ = json.NewEncoder(w).Encode(cur)
				return
			}
		}
		in.Path = path
		in.ModifyIndex = f.bump()
		if cur == nil {
			in.CreateIndex = in.ModifyIndex
		} else {
			in.CreateIndex = cur.CreateIndex
		}
		f.vars[path] = &in
		reply(in)
	default:
		fail(http.StatusMethodNotAllowed, "nomadfake: %s %s", r.Method, r.URL.Path)
	}
}

// --- the cluster ------------------------------------------------------------

func (f *Fake) latest(id string) *nomadapi.Job {
	vs := f.jobs[id]
	if len(vs) == 0 {
		return nil
	}
	return vs[len(vs)-1]
}

func (f *Fake) version(id string, v uint64) *nomadapi.Job {
	for _, j := range f.jobs[id] {
		if *j.Version == v {
			return j
		}
	}
	return nil
}

func (f *Fake) deployment(id string) *nomadapi.Deployment {
	for _, d := range f.deps {
		if d.ID == id {
			return d
		}
	}
	return nil
}

func jobModifyIndex(j *nomadapi.Job) uint64 {
	if j == nil || j.JobModifyIndex == nil {
		return 0
	}
	return *j.JobModifyIndex
}

// register stores j as the job's next version and starts its deployment:
// groups whose spec changed get new allocations (canaries first when the
// update block asks for them); allocations of unchanged groups are updated
// in place and count as placed.
func (f *Fake) register(j *nomadapi.Job) *nomadapi.Job {
	prev := f.latest(*j.ID)
	version := uint64(0)
	if prev != nil {
		version = *prev.Version + 1
	}
	idx := f.bump()
	j.Version, j.Stable, j.JobModifyIndex, j.ModifyIndex = ptr(version), ptr(false), ptr(idx), ptr(idx)
	j.CreateIndex = ptr(idx)
	if prev != nil {
		j.CreateIndex = prev.CreateIndex
	}
	j.SubmitTime = ptr(time.Now().UnixNano())
	j.Status = ptr("running")
	j.VersionTag = nil
	f.jobs[*j.ID] = append(f.jobs[*j.ID], j)

	d := &nomadapi.Deployment{
		ID: f.id(), JobID: *j.ID, JobVersion: version, JobCreateIndex: *j.CreateIndex, JobModifyIndex: idx,
		Status: nomadapi.DeploymentStatusRunning, StatusDescription: "Deployment is running",
		TaskGroups: map[string]*nomadapi.DeploymentState{}, CreateIndex: idx, ModifyIndex: idx,
	}
	for _, tg := range j.TaskGroups {
		u := groupUpdate(j, tg)
		s := &nomadapi.DeploymentState{
			DesiredTotal: intv(tg.Count), AutoRevert: boolv(u.AutoRevert),
			ProgressDeadline: durv(u.ProgressDeadline),
		}
		// Nomad compares each running allocation's own job with the new
		// one: the same group spec is an in-place update, anything else a
		// destructive one, and only destructive updates need canaries (a
		// new job or group has nothing to canary against).
		var inPlace []*nomadapi.Allocation
		destructive := 0
		for _, a := range f.running(*j.ID, *tg.Name) {
			if ag := group(a.Job, *tg.Name); ag != nil && sameGroup(ag, tg) {
				inPlace = append(inPlace, a)
			} else {
				destructive++
			}
		}
		if destructive > 0 {
			s.DesiredCanaries = intv(u.Canary)
		}
		for _, a := range inPlace {
			a.Job, a.DeploymentID = j, d.ID
			a.DeploymentStatus = &nomadapi.AllocDeploymentStatus{}
			s.PlacedAllocs++
		}
		d.TaskGroups[*tg.Name] = s
	}
	f.deps = append(f.deps, d)
	return j
}

func (f *Fake) running(job, groupName string) []*nomadapi.Allocation {
	var out []*nomadapi.Allocation
	for _, a := range f.allocs {
		if a.JobID == job && a.TaskGroup == groupName && a.DesiredStatus == nomadapi.AllocDesiredStatusRun &&
			(a.ClientStatus == nomadapi.AllocClientStatusRunning || a.ClientStatus == nomadapi.AllocClientStatusPending) {
			out = append(out, a)
		}
	}
	return out
}

// advance lets one step of time pass: the first deployment that can move
// does. It reports whether anything changed.
func (f *Fake) advance() bool {
	for _, d := range f.deps {
		if d.Status == nomadapi.DeploymentStatusRunning && f.step(d) {
			f.bump()
			return true
		}
	}
	return false
}

func (f *Fake) step(d *nomadapi.Deployment) bool {
	job := f.version(d.JobID, d.JobVersion)
	names := make([]string, 0, len(d.TaskGroups))
	for n := range d.TaskGroups {
		names = append(names, n)
	}
	sort.Strings(names)
	settled := true
	for _, name := range names {
		s := d.TaskGroups[name]
		canaryPhase := s.DesiredCanaries > 0 && !s.Promoted
		target := s.DesiredTotal
		if canaryPhase {
			target = s.DesiredCanaries
		}
		h := f.behave(job, name)
		if a := f.unjudged(d, name); a != nil {
			if h.Pending {
				// A task stuck before it starts says why in its events
				// (a template that cannot render, a Vault token).
				if h.Event != "" && !hasEvent(a, h.Event) {
					setTask(a, "pending", false, h.Event)
					return true
				}
				settled = false
				continue
			}
			if !h.Unhealthy {
				a.DeploymentStatus.Healthy = ptr(true)
				a.ClientStatus = nomadapi.AllocClientStatusRunning
				setTask(a, "running", false, "Started: Task started by client")
				s.HealthyAllocs++
				return true
			}
			a.DeploymentStatus.Healthy = ptr(false)
			a.ClientStatus = nomadapi.AllocClientStatusFailed
			ev := h.Event
			if ev == "" {
				ev = "Restart Within Policy: exit code 1"
			}
			setTask(a, "dead", true, ev)
			s.UnhealthyAllocs++
			if s.UnhealthyAllocs >= target+2 {
				f.fail(d, "Failed due to progress deadline")
				return true
			}
			f.place(d, job, name, a.DeploymentStatus.Canary) // Nomad reschedules it
			return true
		}
		if healthy := f.healthy(d, name, canaryPhase); healthy < target {
			settled = false
			if f.placed(d, name, canaryPhase) < target+s.UnhealthyAllocs {
				f.place(d, job, name, canaryPhase)
				return true
			}
		}
	}
	if !settled {
		return false
	}
	waiting, autoAll := false, true
	for name, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 && !s.Promoted {
			waiting = true
			autoAll = autoAll && boolv(groupUpdate(job, group(job, name)).AutoPromote)
		}
	}
	switch {
	case waiting && autoAll:
		f.promote(d, true, nil)
		return true
	case waiting:
		const desc = "Deployment is running but requires manual promotion"
		if d.StatusDescription == desc {
			return false
		}
		d.StatusDescription = desc
		return true
	}
	f.succeed(d)
	return true
}

// unjudged is an allocation of d's group with no health verdict yet.
func (f *Fake) unjudged(d *nomadapi.Deployment, groupName string) *nomadapi.Allocation {
	for _, a := range f.allocs {
		if a.DeploymentID == d.ID && a.TaskGroup == groupName && a.DesiredStatus == nomadapi.AllocDesiredStatusRun &&
			a.DeploymentStatus != nil && a.DeploymentStatus.Healthy == nil {
			return a
		}
	}
	return nil
}

func (f *Fake) healthy(d *nomadapi.Deployment, groupName string, canariesOnly bool) int {
	n := 0
	for _, a := range f.allocs {
		if a.DeploymentID == d.ID && a.TaskGroup == groupName && a.DeploymentStatus != nil &&
			a.DeploymentStatus.Healthy != nil && *a.DeploymentStatus.Healthy && (!canariesOnly || a.DeploymentStatus.Canary) {
			n++
		}
	}
	return n
}

func (f *Fake) placed(d *nomadapi.Deployment, groupName string, canariesOnly bool) int {
	n := 0
	for _, a := range f.allocs {
		if a.DeploymentID == d.ID && a.TaskGroup == groupName && (!canariesOnly || a.DeploymentStatus.Canary) {
			n++
		}
	}
	return n
}

func (f *Fake) place(d *nomadapi.Deployment, job *nomadapi.Job, groupName string, canary bool) {
	s := d.TaskGroups[groupName]
	a := &nomadapi.Allocation{
		ID: f.id(), JobID: d.JobID, Job: job, TaskGroup: groupName, DeploymentID: d.ID,
		Name:   fmt.Sprintf("%s.%s[%d]", d.JobID, groupName, s.PlacedAllocs),
		NodeID: "node-1", NodeName: "fake-node",
		DesiredStatus: nomadapi.AllocDesiredStatusRun, ClientStatus: nomadapi.AllocClientStatusPending,
		DeploymentStatus: &nomadapi.AllocDeploymentStatus{Canary: canary},
		CreateIndex:      f.index, ModifyIndex: f.index,
	}
	for _, t := range group(job, groupName).Tasks {
		if a.TaskStates == nil {
			a.TaskStates = map[string]*nomadapi.TaskState{}
		}
		a.TaskStates[t.Name] = &nomadapi.TaskState{State: "pending", Events: []*nomadapi.TaskEvent{
			{Type: "Received", DisplayMessage: "Task received by client", Time: time.Now().UnixNano()}}}
	}
	f.allocs = append(f.allocs, a)
	s.PlacedAllocs++
	if canary {
		s.PlacedCanaries = append(s.PlacedCanaries, a.ID)
	}
}

func setTask(a *nomadapi.Allocation, state string, failed bool, event string) {
	typ, msg, _ := strings.Cut(event, ": ")
	for _, ts := range a.TaskStates {
		ts.State, ts.Failed = state, failed
		ts.Events = append(ts.Events, &nomadapi.TaskEvent{Type: typ, DisplayMessage: msg, Time: time.Now().UnixNano()})
	}
}

func hasEvent(a *nomadapi.Allocation, event string) bool {
	typ, msg, _ := strings.Cut(event, ": ")
	for _, ts := range a.TaskStates {
		for _, e := range ts.Events {
			if e.Type == typ && e.DisplayMessage == msg {
				return true
			}
		}
	}
	return false
}

func (f *Fake) promote(d *nomadapi.Deployment, all bool, groups []string) {
	for name, s := range d.TaskGroups {
		if s.DesiredCanaries > 0 && (all || slices.Contains(groups, name)) {
			s.Promoted = true
		}
	}
	d.StatusDescription = "Deployment is running"
	d.ModifyIndex = f.bump()
}

// succeed ends d: its version becomes stable, allocations of older versions
// stop (or, for groups d did not change, now carry d's version).
func (f *Fake) succeed(d *nomadapi.Deployment) {
	d.Status, d.StatusDescription = nomadapi.DeploymentStatusSuccessful, "Deployment completed successfully"
	d.ModifyIndex = f.index + 1
	job := f.version(d.JobID, d.JobVersion)
	job.Stable = ptr(true)
	for _, a := range f.allocs {
		if a.JobID != d.JobID || *a.Job.Version >= d.JobVersion || a.DesiredStatus != nomadapi.AllocDesiredStatusRun {
			continue
		}
		a.DesiredStatus, a.ClientStatus = nomadapi.AllocDesiredStatusStop, nomadapi.AllocClientStatusComplete
	}
}

// fail ends d as failed; its canaries stop, and with auto_revert the
// newest stable older version is registered again, as Nomad does.
func (f *Fake) fail(d *nomadapi.Deployment, why string) {
	d.Status, d.StatusDescription = nomadapi.DeploymentStatusFailed, why
	d.ModifyIndex = f.bump()
	revert := false
	for _, s := range d.TaskGroups {
		revert = revert || s.AutoRevert
	}
	for _, a := range f.allocs {
		if a.DeploymentID == d.ID && a.DesiredStatus == nomadapi.AllocDesiredStatusRun &&
			(a.DeploymentStatus.Canary || a.ClientStatus == nomadapi.AllocClientStatusFailed) {
			a.DesiredStatus = nomadapi.AllocDesiredStatusStop
			if a.ClientStatus != nomadapi.AllocClientStatusFailed {
				a.ClientStatus = nomadapi.AllocClientStatusComplete
			}
		}
	}
	if !revert {
		return
	}
	vs := f.jobs[d.JobID]
	for i := len(vs) - 1; i >= 0; i-- {
		if *vs[i].Version < d.JobVersion && vs[i].Stable != nil && *vs[i].Stable {
			d.StatusDescription = fmt.Sprintf("%s - rolling back to job version %d", why, *vs[i].Version)
			f.register(clone(vs[i]))
			return
		}
	}
}

// --- helpers ------------------------------------------------------------------

func terminal(d *nomadapi.Deployment) bool {
	return d.Status != nomadapi.DeploymentStatusRunning && d.Status != nomadapi.DeploymentStatusPaused
}

func stub(a *nomadapi.Allocation) *nomadapi.AllocationListStub {
	return &nomadapi.AllocationListStub{
		ID: a.ID, Name: a.Name, NodeID: a.NodeID, NodeName: a.NodeName, JobID: a.JobID, JobVersion: *a.Job.Version,
		TaskGroup: a.TaskGroup, DesiredStatus: a.DesiredStatus, ClientStatus: a.ClientStatus,
		DeploymentStatus: a.DeploymentStatus, TaskStates: a.TaskStates, CreateIndex: a.CreateIndex, ModifyIndex: a.ModifyIndex,
	}
}

func group(j *nomadapi.Job, name string) *nomadapi.TaskGroup {
	for _, tg := range j.TaskGroups {
		if tg.Name != nil && *tg.Name == name {
			return tg
		}
	}
	return nil
}

// groupUpdate is the group's update block over the job's, as Nomad merges
// them.
func groupUpdate(j *nomadapi.Job, tg *nomadapi.TaskGroup) *nomadapi.UpdateStrategy {
	u := &nomadapi.UpdateStrategy{}
	if j.Update != nil {
		u = j.Update.Copy()
	}
	if tg.Update != nil {
		u.Merge(tg.Update)
	}
	return u
}

// sameSpec compares what a user submits, ignoring what Nomad sets.
func sameSpec(a, b *nomadapi.Job) bool {
	return specJSON(a) == specJSON(b)
}

func specJSON(j *nomadapi.Job) string {
	c := clone(j)
	c.Version, c.Stable, c.SubmitTime, c.CreateIndex, c.ModifyIndex, c.JobModifyIndex = nil, nil, nil, nil, nil, nil
	c.Status, c.StatusDescription, c.VersionTag = nil, nil, nil
	b, _ := json.Marshal(c)
	return string(b)
}

func sameGroup(a, b *nomadapi.TaskGroup) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func clone[T any](v *T) *T {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	out := new(T)
	if err := json.Unmarshal(b, out); err != nil {
		panic(err)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

func intv(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}

func boolv(p *bool) bool { return p != nil && *p }

func durv(p *time.Duration) time.Duration {
	if p == nil {
		return 0
	}
	return *p
}
