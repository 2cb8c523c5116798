package provision

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAWS is enough of IMDSv2 and the Auto Scaling query API for
// termination-watch.sh: the lifecycle state turns to Terminated after a
// few polls, and the CompleteLifecycleAction call is recorded.
type fakeAWS struct {
	mu        sync.Mutex
	polls     int
	untilTerm int
	noToken   int // metadata requests without a session token
	completed url.Values
	auth      string
	secToken  string
	events    []string // "stop nomad.service" (from the systemctl stub), "complete"
}

const (
	fakeKeyID  = "ASIAFAKEKEYID0000000"
	fakeSecret = "fake/Secret+Access/Key0000000000000000000"
	fakeToken  = "fake-session-token/with+chars="
)

func (f *fakeAWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.URL.Path == "/event" {
		f.events = append(f.events, r.URL.Query().Get("what"))
		return
	}
	if r.URL.Path == "/latest/api/token" {
		if r.Method != http.MethodPut || r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") == "" {
			http.Error(w, "IMDSv2 token: PUT with a TTL", http.StatusBadRequest)
			return
		}
		_, _ = w.Write([]byte("imds-session"))
		return
	}
	if strings.HasPrefix(r.URL.Path, "/latest/meta-data/") {
		if r.Header.Get("X-aws-ec2-metadata-token") != "imds-session" {
			f.noToken++
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		switch strings.TrimPrefix(r.URL.Path, "/latest/meta-data/") {
		case "autoscaling/target-lifecycle-state":
			f.polls++
			if f.polls > f.untilTerm {
				_, _ = w.Write([]byte("Terminated"))
			} else {
				_, _ = w.Write([]byte("InService"))
			}
		case "instance-id":
			_, _ = w.Write([]byte("i-0123456789abcdef0"))
		case "placement/region":
			_, _ = w.Write([]byte("eu-west-1"))
		case "iam/security-credentials/":
			_, _ = w.Write([]byte("hstack-prod-client\n"))
		case "iam/security-credentials/hstack-prod-client":
			_, _ = w.Write([]byte(`{
  "Code" : "Success",
  "Type" : "AWS-HMAC",
  "AccessKeyId" : "` + fakeKeyID + `",
  "SecretAccessKey" : "` + fakeSecret + `",
  "Token" : "` + fakeToken + `",
  "Expiration" : "2026-12-02T12:00:00Z"
}`))
		default:
			http.NotFound(w, r)
		}
		return
	}
	if r.URL.Path == "/autoscaling/" && r.Method == http.MethodPost {
		_ = r.ParseForm()
		f.completed = r.PostForm
		f.auth = r.Header.Get("Authorization")
		f.secToken = r.Header.Get("X-Amz-Security-Token")
		f.events = append(f.events, "complete")
		_, _ = w.Write([]byte("<CompleteLifecycleActionResponse/>"))
		return
	}
	http.NotFound(w, r)
}

// TestTerminationWatchDrainsThenCompletes runs termination-watch.sh with the
// real curl against a fake IMDSv2 and Auto Scaling API: once the instance's
// target lifecycle state is Terminated, Nomad is stopped (its
// drain_on_shutdown drains the node) and only then is the lifecycle action
// completed, signed with SigV4 with the instance role's credentials, which
// appear in no output and on no command line.
func TestTerminationWatchDrainsThenCompletes(t *testing.T) {
	requireJQ(t)
	dir := t.TempDir()
	aws := &fakeAWS{untilTerm: 3}
	srv := httptest.NewServer(aws)
	defer srv.Close()

	cluster := filepath.Join(dir, "cluster.json")
	if err := os.WriteFile(cluster, []byte(`{"asg_name":"hstack-prod-client","cluster_tag":{"hstack-cluster":"hstack-prod"},"ingress_port":8080,"lifecycle_hook":"drain","role":"client"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	// systemctl is a stub that records its arguments, and tells the fake
	// when it ran (before or after the completion).
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	calls := filepath.Join(dir, "systemctl.calls")
	stub := "#!/bin/sh\necho \"$@\" >> " + calls + "\ncurl -sf -G --data-urlencode \"what=$*\" " + srv.URL + "/event\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(stub), 0o755); err != nil { // #nosec G306 -- a test stub that must be executable
		t.Fatal(err)
	}

	cmd := exec.Command("bash", filepath.Join(scripts, "termination-watch.sh"))
	cmd.Env = append(os.Environ(),
		"PATH="+bin+":"+os.Getenv("PATH"),
		"HSTACK_IMDS_URL="+srv.URL,
		"HSTACK_AUTOSCALING_ENDPOINT="+srv.URL+"/autoscaling/",
		"HSTACK_CLUSTER_JSON="+cluster,
		"HSTACK_POLL_SECONDS=0.1",
	)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("termination-watch.sh did not finish:\n%s", out)
	}
	if err != nil {
		t.Fatalf("termination-watch.sh: %v\n%s", err, out)
	}
	t.Logf("output:\n%s", out)

	got, _ := os.ReadFile(calls) // #nosec G304 -- the test's own file
	if strings.TrimSpace(string(got)) != "stop nomad.service" {
		t.Errorf("systemctl calls %q, want exactly: stop nomad.service", got)
	}
	aws.mu.Lock()
	defer aws.mu.Unlock()
	if aws.polls != aws.untilTerm+1 {
		t.Errorf("%d polls of the lifecycle state, want %d (until Terminated, then stop)", aws.polls, aws.untilTerm+1)
	}
	if strings.Join(aws.events, ", ") != "stop nomad.service, complete" {
		t.Errorf("events %q, want Nomad stopped (drained) before the lifecycle action is completed", aws.events)
	}
	if aws.noToken > 0 {
		t.Errorf("%d metadata requests without an IMDSv2 session token", aws.noToken)
	}
	want := url.Values{
		"Action": {"CompleteLifecycleAction"}, "Version": {"2011-01-01"},
		"AutoScalingGroupName": {"hstack-prod-client"}, "LifecycleHookName": {"drain"},
		"LifecycleActionResult": {"CONTINUE"}, "InstanceId": {"i-0123456789abcdef0"},
	}
	for k, v := range want {
		if aws.completed.Get(k) != v[0] {
			t.Errorf("CompleteLifecycleAction %s = %q, want %q (form %v)", k, aws.completed.Get(k), v[0], aws.completed)
		}
	}
	if !strings.HasPrefix(aws.auth, "AWS4-HMAC-SHA256 Credential="+fakeKeyID+"/") || !strings.Contains(aws.auth, "/eu-west-1/autoscaling/aws4_request") {
		t.Errorf("Authorization %q: want SigV4 for autoscaling in eu-west-1 with the instance role's key", aws.auth)
	}
	if aws.secToken != fakeToken {
		t.Errorf("X-Amz-Security-Token %q, want the role's session token", aws.secToken)
	}
	for _, secret := range []string{fakeSecret, fakeToken} {
		if strings.Contains(string(out), secret) {
			t.Errorf("a credential appears in the watch's output")
		}
	}
}

// TestTerminationWatchWithoutAHook: an instance whose cluster.json names no
// lifecycle hook (a server, an ASG without one) has nothing to watch.
func TestTerminationWatchWithoutAHook(t *testing.T) {
	requireJQ(t)
	cluster := filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(cluster, []byte(`{"role":"server","bootstrap_expect":3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", filepath.Join(scripts, "termination-watch.sh"))
	cmd.Env = append(os.Environ(), "HSTACK_CLUSTER_JSON="+cluster, "HSTACK_IMDS_URL=http://127.0.0.1:1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nothing to watch") {
		t.Errorf("without a hook: %v\n%s", err, out)
	}
}
