package render

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/appconfig"
	"github.com/hstack-dev/hstack/pkg/devstack"
	"github.com/hstack-dev/hstack/pkg/devstack/devstacktest"
	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// devstackOptions are what `hstack render` fills in from the dev stack's
// environment. No Consul DNS address: the ingress takes its node's (the
// dev client's consul_dns_addr meta, here a free port).
func devstackOptions(s *devstack.Stack) Options {
	return Options{
		Commit:         goldenOptions.Commit,
		ConsulHTTPAddr: s.ConsulAddr(),
		NomadAddr:      s.NomadAddr(),
		VaultAddr:      s.VaultAddr(),
	}
}

// TestNomadAcceptsRenderedJobs has a real Nomad (with Consul and Vault, as
// the jobs need them) parse every job rendered from the example in dev and
// prod, and checks that what it parses from the file is exactly the job
// hstack submits: compared whole, both canonicalized, the submitted one
// after a JSON round trip as the API does it. cmpopts.EquateEmpty is the
// only relaxation (the file omits empty lists and maps). Nomad must also
// validate and plan each job.
func TestNomadAcceptsRenderedJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"dev", "prod"} {
		opts := devstackOptions(s)
		if env == "prod" {
			// Every job production can have: the snapshot job and the
			// autoscaler's cluster policy come with Terraform's outputs.
			opts.SnapshotBucket = "shop-prod-snapshots"
			opts.ClientFleet = &ClientFleet{ASGName: "shop-prod-clients", Min: 3, Max: 12, Region: "us-east-1"}
		}
		for _, j := range mustRender(t, loadExample(t, env), opts) {
			t.Run(env+"/"+j.Name, func(t *testing.T) {
				got, err := nomad.Jobs().ParseHCLOpts(&nomadapi.JobsParseRequest{JobHCL: string(j.HCL), Canonicalize: true})
				if err != nil {
					t.Fatalf("nomad cannot parse the rendered job: %v\n%s", err, j.HCL)
				}
				want := viaJSON(t, j.Job)
				want.Canonicalize()
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("job nomad parsed from the file differs from the one hstack submits (-submitted +parsed):\n%s", diff)
				}
				resp, _, err := nomad.Jobs().Validate(viaJSON(t, j.Job), nil)
				if err != nil {
					t.Fatalf("validate: %v", err)
				}
				if len(resp.ValidationErrors) > 0 || resp.Error != "" {
					t.Fatalf("nomad rejects the job: %s %v", resp.Error, resp.ValidationErrors)
				}
				if resp.Warnings != "" {
					t.Logf("nomad warns: %s", resp.Warnings)
				}
				plan, _, err := nomad.Jobs().Plan(viaJSON(t, j.Job), true, nil)
				if err != nil {
					t.Fatalf("plan: %v", err)
				}
				if plan.Diff == nil || plan.Diff.Type != "Added" {
					t.Errorf("plan of a new job: diff %+v, want Added", plan.Diff)
				}
			})
		}
	}
}

// TestIngressRoutesToHealthyApp runs the dev rendering of the example on a
// dev stack, pingapp and the HAProxy ingress, and sends a request through
// the ingress: HAProxy must find pingapp through Consul DNS and pass the
// request on, and pingapp must answer with credentials Vault gave it.
func TestIngressRoutesToHealthyApp(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: boots Nomad, Consul, Vault and PostgreSQL")
	}
	s := devstacktest.Start(t)
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	st := loadExample(t, "dev")
	// The test's stack runs on free ports, and pingapp from a fresh build.
	st.Apps[0].Command = devstacktest.BuildBinary(t, "./cmd/pingapp", s.Dir)
	st.Databases[0].Port = s.Ports.Postgres
	st.Ingress.Port = freePort(t)
	st.Monitoring = nil
	syncConfig(t, s, st)
	for _, j := range mustRender(t, st, devstackOptions(s)) {
		if _, _, err := nomad.Jobs().Register(j.Job, nil); err != nil {
			t.Fatalf("register %s: %v", j.Name, err)
		}
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/ping", st.Ingress.Port)
	devstacktest.Eventually(t, 2*time.Minute, "pong through the ingress", func() error {
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != "pong" {
			return fmt.Errorf("GET %s = %d %q; %s", url, resp.StatusCode, body, allocStates(nomad))
		}
		return nil
	})
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", st.Ingress.Port, HealthPath))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // the test has what it needs from the response
	if resp.StatusCode != http.StatusOK {
		t.Errorf("%s = %d", HealthPath, resp.StatusCode)
	}
}

func allocStates(nomad *nomadapi.Client) string {
	allocs, _, err := nomad.Allocations().List(nil)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, a := range allocs {
		out = append(out, fmt.Sprintf("%s/%s: %s", a.JobID, a.TaskGroup, a.ClientStatus))
	}
	return strings.Join(out, ", ")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
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

// syncConfig writes the apps' config to Consul KV, as hstack deploy does
// before it registers jobs: an app's config template waits for its keys.
func syncConfig(t *testing.T, s *devstack.Stack, st *stackfile.Stack) {
	t.Helper()
	consul, err := s.ConsulClient()
	if err != nil {
		t.Fatal(err)
	}
	nomad, err := s.NomadClient()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&appconfig.Syncer{Consul: consul, Nomad: nomad}).Sync(context.Background(), st); err != nil {
		t.Fatal(err)
	}
}
