// Package image builds hstack's machine images with Packer (os/exec, the
// real binary), streams what Packer prints, and hands the AMI ids it
// produced to Terraform through terraform/envs/<env>/images.auto.tfvars.json.
package image

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
)

// Roles are the images the template builds, one per scripts/provision entry
// point.
var Roles = []string{"server", "client", "vault"}

// ValidRole reports whether role is one of Roles.
func ValidRole(role string) bool {
	return slices.Contains(Roles, role)
}

// VarName is the Terraform variable that carries role's AMI id (agreed
// with terraform/envs/*: server_ami_id, client_ami_id, vault_ami_id).
func VarName(role string) string { return role + "_ami_id" }

// EventType names what a build reported.
type EventType string

const (
	EventOutput   EventType = "output"   // one line Packer printed
	EventStep     EventType = "step"     // Packer started a step (a "==> build: ..." line)
	EventArtifact EventType = "artifact" // the manifest named an artifact
	EventFailed   EventType = "failed"   // Packer exited non-zero
)

// Event is one line of a build's story, for the terminal and --json.
type Event struct {
	Time       time.Time `json:"time"`
	Type       EventType `json:"type"`
	Role       string    `json:"role"`
	Build      string    `json:"build,omitempty"` // Packer's build name, e.g. amazon-ebs.hstack
	Step       string    `json:"step,omitempty"`
	Line       string    `json:"line,omitempty"`
	ArtifactID string    `json:"artifact_id,omitempty"`
	Message    string    `json:"message,omitempty"`
}

// Options of one Packer build.
type Options struct {
	Packer   string            // the packer binary
	Template string            // a template directory or file (packer/)
	Role     string            // server, client or vault
	Vars     map[string]string // -var k=v; role and manifest are set by Build
	Only     []string          // -only
	Dir      string            // working directory for Packer
	Env      []string          // extra environment for Packer
}

// Result is what a successful build produced.
type Result struct {
	Artifacts []Artifact
}

// Artifact is one build's entry in Packer's manifest.
type Artifact struct {
	Name        string            `json:"name"`
	BuilderType string            `json:"builder_type"`
	BuildTime   int64             `json:"build_time"`
	ArtifactID  string            `json:"artifact_id"`
	RunUUID     string            `json:"packer_run_uuid"`
	CustomData  map[string]string `json:"custom_data"`
}

// BuildError is a failed build, naming the step Packer was at.
type BuildError struct {
	Build, Step, Message string
	ExitCode             int
}

func (e *BuildError) Error() string {
	var b strings.Builder
	b.WriteString("packer build failed")
	if e.Build != "" {
		fmt.Fprintf(&b, " in build %s", e.Build)
	}
	if e.Step != "" {
		fmt.Fprintf(&b, " at step %q", e.Step)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	fmt.Fprintf(&b, " (packer exit %d)", e.ExitCode)
	return b.String()
}

// Build runs `packer init` when the template needs plugins, then `packer
// build`, sending every line Packer prints to sink as it comes, and returns
// the artifacts of this run from the manifest post-processor's file.
func Build(ctx context.Context, o Options, sink func(Event)) (*Result, error) {
	if !ValidRole(o.Role) {
		return nil, fmt.Errorf("unknown role %q (want %s)", o.Role, strings.Join(Roles, ", "))
	}
	manifestDir, err := os.MkdirTemp("", "hstack-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(manifestDir)
	manifest := filepath.Join(manifestDir, "manifest.json")
	vars := map[string]string{}
	for k, v := range o.Vars {
		vars[k] = v
	}
	vars["role"] = o.Role
	vars["manifest"] = manifest
	args := BuildArgs(o.Template, vars, o.Only)

	t := &tracker{role: o.Role, sink: sink}
	// init installs the plugins in required_plugins (a no-op without any);
	// its lines are part of the story, its failure a failed step of its own.
	code, err := runPacker(ctx, o, []string{"init", "-machine-readable", o.Template}, t.line)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		be := t.failure()
		be.Step, be.ExitCode = "packer init", code
		sink(Event{Time: time.Now(), Type: EventFailed, Role: o.Role, Step: be.Step, Message: be.Message})
		return nil, be
	}
	code, err = runPacker(ctx, o, args, t.line)
	if err != nil {
		return nil, err
	}
	if code != 0 {
		be := t.failure()
		be.ExitCode = code
		sink(Event{Time: time.Now(), Type: EventFailed, Role: o.Role, Build: be.Build, Step: be.Step, Message: be.Message})
		return nil, be
	}
	arts, err := ReadManifest(manifest)
	if err != nil {
		return nil, err
	}
	for _, a := range arts {
		sink(Event{Time: time.Now(), Type: EventArtifact, Role: o.Role, Build: a.BuilderType + "." + a.Name, ArtifactID: a.ArtifactID})
	}
	return &Result{Artifacts: arts}, nil
}

// BuildArgs is the packer command line: variables sorted so a build is
// reproducible from its log.
func BuildArgs(template string, vars map[string]string, only []string) []string {
	args := []string{"build", "-machine-readable"}
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		args = append(args, "-var", k+"="+vars[k])
	}
	if len(only) > 0 {
		args = append(args, "-only="+strings.Join(only, ","))
	}
	return append(args, template)
}

func runPacker(ctx context.Context, o Options, args []string, line func(string)) (int, error) {
	cmd := exec.CommandContext(ctx, o.Packer, args...) // #nosec G204 -- running Packer is this package's job; o.Packer is the pinned one pkg/tools found
	cmd.Dir = o.Dir
	// Packer asks checkpoint.hashicorp.com for news unless told not to.
	cmd.Env = append(append(os.Environ(), "CHECKPOINT_DISABLE=1", "PACKER_NO_COLOR=1"), o.Env...)
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("packer: %w", err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line(sc.Text())
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	_ = pw.Close() // io.PipeWriter.Close always returns nil; it ends the reader's loop
	wg.Wait()
	if ctx.Err() != nil {
		return 0, ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, err
}

// reStep is a step Packer starts: "==> amazon-ebs.hstack: Provisioning
// with shell script: ...", said (not an error) by the build.
var reStep = regexp.MustCompile(`^==> ([A-Za-z0-9_.\-]+): (.*)$`)

// tracker reads Packer's -machine-readable output (timestamp,target,type,
// data...), turns its ui lines back into the lines Packer prints for a
// human, and remembers the step each build was at, so a failure names it.
// The machine-readable form is what tells a step ("ui,say") from a
// provisioner's stderr ("ui,error"), which look alike on a terminal.
type tracker struct {
	role             string
	sink             func(Event)
	steps            map[string]string
	failedBuild, msg string
}

func (t *tracker) line(raw string) {
	now := time.Now()
	f := strings.Split(raw, ",")
	if len(f) < 3 {
		// Not machine-readable (a plugin writing to the terminal): pass on.
		t.sink(Event{Time: now, Type: EventOutput, Role: t.role, Line: raw})
		return
	}
	target, typ, data := f[1], f[2], f[3:]
	for i := range data {
		data[i] = strings.NewReplacer("%!(PACKER_COMMA)", ",", `\n`, "\n", `\r`, "").Replace(data[i])
	}
	switch {
	case typ == "ui" && len(data) >= 2:
		kind, text := data[0], strings.Join(data[1:], ",")
		for _, l := range strings.Split(strings.TrimPrefix(text, "\n"), "\n") {
			t.sink(Event{Time: now, Type: EventOutput, Role: t.role, Line: l})
			if kind != "say" {
				continue
			}
			if m := reStep.FindStringSubmatch(l); m != nil {
				if t.steps == nil {
					t.steps = map[string]string{}
				}
				t.steps[m[1]] = m[2]
				t.sink(Event{Time: now, Type: EventStep, Role: t.role, Build: m[1], Step: m[2]})
			}
		}
	case typ == "error" && target != "" && len(data) >= 1 && t.failedBuild == "":
		// "1796162461,file.image,error,Script exited with ..."
		t.failedBuild, t.msg = target, strings.Join(data, ",")
	case typ == "error" && target == "" && len(data) >= 1 && t.msg == "":
		// Packer's own error before any build ran (a template error).
		t.msg = strings.Join(data, ",")
	}
}

func (t *tracker) failure() *BuildError {
	be := &BuildError{Build: t.failedBuild, Message: t.msg}
	if be.Build == "" && len(t.steps) == 1 {
		for b := range t.steps {
			be.Build = b
		}
	}
	be.Step = t.steps[be.Build]
	return be
}

// ReadManifest returns the artifacts of the last run recorded in a Packer
// manifest (the post-processor appends one entry per build per run).
func ReadManifest(path string) ([]Artifact, error) {
	b, err := os.ReadFile(path) // #nosec G304 -- the manifest the Packer run just wrote where it was told to
	if err != nil {
		return nil, fmt.Errorf("packer manifest: %w (does the template have a manifest post-processor writing to var.manifest?)", err)
	}
	var m struct {
		Builds      []Artifact `json:"builds"`
		LastRunUUID string     `json:"last_run_uuid"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("packer manifest %s: %w", path, err)
	}
	var out []Artifact
	for _, a := range m.Builds {
		if a.RunUUID == m.LastRunUUID {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("packer manifest %s names no artifact of run %s", path, m.LastRunUUID)
	}
	return out, nil
}

// ImageID is the AMI id in an artifact id: amazon-ebs writes
// "region:ami-...", one per region, comma-separated; the first is the
// build's region. Other builders' ids are returned as they are.
func ImageID(artifactID string) string {
	first, _, _ := strings.Cut(artifactID, ",")
	if _, id, ok := strings.Cut(first, ":"); ok {
		return id
	}
	return first
}

// MergeVars sets key to value in a JSON object (the current content of a
// .tfvars.json file, or empty), keeping every other key.
func MergeVars(current []byte, key, value string) ([]byte, error) {
	vars := map[string]any{}
	if len(bytes.TrimSpace(current)) > 0 {
		if err := json.Unmarshal(current, &vars); err != nil {
			return nil, fmt.Errorf("not a JSON object: %w", err)
		}
	}
	vars[key] = value
	out, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// WriteVars merges key = value into the .tfvars.json file at path,
// atomically, creating it (and its directory) when missing.
func WriteVars(path, key, value string) error {
	cur, err := os.ReadFile(path) // #nosec G304 -- the env's tfvars file in the project (VarsFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	out, err := MergeVars(cur, key, value)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	// #nosec G301 G306 -- AMI ids, committed to the repository with the
	// env's Terraform: public, like the rest of the working tree.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o644); err != nil { // #nosec G306 -- as above
		return err
	}
	return os.Rename(tmp, path)
}

// VarsFile is where Terraform picks the AMI ids up for env.
func VarsFile(projectDir, env string) string {
	return filepath.Join(projectDir, "terraform", "envs", env, "images.auto.tfvars.json")
}
