package jobhcl

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2/hclwrite"
	nomadapi "github.com/hashicorp/nomad/api"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the encoder's output")

var fixtures = []struct {
	name string
	job  func() *nomadapi.Job
}{
	{"service", serviceJob},
	{"system", systemJob},
	{"batch", batchJob},
	{"edge", edgeJob},
}

func TestGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			got, err := Encode(f.job())
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", f.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run `go test ./pkg/jobhcl -update`)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (run `go test ./pkg/jobhcl -update` if intended):\n%s",
					path, cmp.Diff(string(want), string(got)))
			}
		})
	}
}

// TestDeterministic encodes fresh copies many times: Go randomises map
// iteration, so unsorted output would show up here.
func TestDeterministic(t *testing.T) {
	for _, f := range fixtures {
		first, err := Encode(f.job())
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			again, err := Encode(f.job())
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(first, again) {
				t.Fatalf("%s: two encodings differ:\n%s", f.name, cmp.Diff(string(first), string(again)))
			}
		}
	}
}

// TestRoundTripNomad has a real Nomad parse each encoded job and checks that
// the result is the job that was encoded, then that Nomad accepts it.
//
// The input is compared in the form `hstack deploy` sends it: encoded as
// JSON and decoded again (driver config numbers become float64 on both
// sides), then canonicalized. The server side is the job Nomad parsed from
// the HCL and canonicalized, which reaches us as JSON too. The comparison
// covers the whole job; cmpopts.EquateEmpty is the only relaxation, because
// the encoder omits empty lists and maps as a person would, so a nil and an
// empty collection must compare equal.
//
// Canonicalize could hide a field the encoder dropped whose value equals
// Nomad's default, so each job is also compared uncanonicalized, against
// the input with only the defaults the jobspec parser itself fills in.
func TestRoundTripNomad(t *testing.T) {
	client := startNomad(t)
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			src, err := Encode(f.job())
			if err != nil {
				t.Fatal(err)
			}
			got, err := client.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: string(src), Canonicalize: true})
			if err != nil {
				t.Fatalf("nomad cannot parse the encoded job: %v\n%s", err, src)
			}
			want := viaJSON(t, f.job())
			want.Canonicalize()
			if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("job parsed by nomad differs from the input (-input +parsed):\n%s", diff)
			}

			raw, err := client.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: string(src)})
			if err != nil {
				t.Fatal(err)
			}
			want = viaJSON(t, f.job())
			parserDefaults(want)
			if diff := cmp.Diff(want, raw, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("uncanonicalized job parsed by nomad differs from the input (-input +parsed):\n%s", diff)
			}

			resp, _, err := client.Jobs().Validate(got, nil)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			if len(resp.ValidationErrors) > 0 || resp.Error != "" {
				t.Fatalf("nomad rejects the job: %s %v", resp.Error, resp.ValidationErrors)
			}
			if _, _, err := client.Jobs().Plan(got, true, nil); err != nil {
				t.Fatalf("plan: %v", err)
			}
		})

		// A canonicalized job is the shape of one read back from Nomad:
		// every default is spelled out, and it must survive just the same.
		t.Run(f.name+"-canonicalized", func(t *testing.T) {
			job := viaJSON(t, f.job())
			job.Canonicalize()
			src, err := Encode(job)
			if err != nil {
				t.Fatal(err)
			}
			got, err := client.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: string(src), Canonicalize: true})
			if err != nil {
				t.Fatalf("nomad cannot parse the encoded job: %v\n%s", err, src)
			}
			if diff := cmp.Diff(job, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("job parsed by nomad differs from the input (-input +parsed):\n%s", diff)
			}
		})
	}
}

func viaJSON(t *testing.T, job *nomadapi.Job) *nomadapi.Job {
	t.Helper()
	b, err := json.Marshal(job)
	if err != nil {
		t.Fatal(err)
	}
	var out nomadapi.Job
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// parserDefaults fills in what Nomad's jobspec2 parser sets on every job it
// parses (normalizeJob in jobspec2/parse_job.go, group scaling type in
// hcl_conversions.go), and nothing else.
func parserDefaults(j *nomadapi.Job) {
	orDefault := func(p **string, v string) {
		if *p == nil {
			*p = &v
		}
	}
	orDefault(&j.Name, *j.ID)
	if j.Periodic != nil && (j.Periodic.Spec != nil || j.Periodic.Specs != nil) {
		j.Periodic.SpecType = ptr(nomadapi.PeriodicSpecCron)
	}
	for _, tg := range j.TaskGroups {
		if tg.Scaling != nil && tg.Scaling.Type == "" {
			tg.Scaling.Type = nomadapi.ScalingPolicyTypeHorizontal
		}
		for _, t := range tg.Tasks {
			if v := t.Vault; v != nil {
				if v.Env == nil {
					v.Env = ptr(true)
				}
				if v.DisableFile == nil {
					v.DisableFile = ptr(false)
				}
				orDefault(&v.ChangeMode, "restart")
			}
			for _, tmpl := range t.Templates {
				orDefault(&tmpl.ChangeMode, "restart")
				orDefault(&tmpl.Perms, "0644")
				if tmpl.Splay == nil {
					tmpl.Splay = ptr(5 * time.Second)
				}
				if tmpl.ErrMissingKey == nil {
					tmpl.ErrMissingKey = ptr(false)
				}
				if cs := tmpl.ChangeScript; cs != nil {
					if cs.Timeout == nil {
						cs.Timeout = ptr(5 * time.Second)
					}
					if cs.FailOnError == nil {
						cs.FailOnError = ptr(false)
					}
				}
			}
		}
	}
}

// TestFormatIsHclwrites: formatting the built tokens once gives the bytes
// hclwrite.Format gives after hclwrite has formatted, written and
// re-lexed them (what Encode did before), for every fixture.
func TestFormatIsHclwrites(t *testing.T) {
	for _, fx := range fixtures {
		f, err := build(fx.job())
		if err != nil {
			t.Fatal(err)
		}
		want := hclwrite.Format(f.Bytes())
		if got := format(f); !bytes.Equal(got, want) {
			t.Errorf("%s: (-hclwrite.Format +format)\n%s", fx.name, cmp.Diff(string(want), string(got)))
		}
	}
}
