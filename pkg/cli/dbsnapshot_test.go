package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// TestDBSnapshotThroughTheCLI points the AWS SDK's standard configuration
// (AWS_ENDPOINT_URL, static keys in the environment) at a fake RDS on
// loopback: the command finds the database, names the snapshot and sends
// CreateDBClusterSnapshot. Not verified against AWS itself.
func TestDBSnapshotThroughTheCLI(t *testing.T) {
	isolateStackEnv(t)
	var got url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got, _ = url.ParseQuery(string(b))
		w.Header().Set("Content-Type", "text/xml")
		_, _ = io.WriteString(w, `<CreateDBClusterSnapshotResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><CreateDBClusterSnapshotResult><DBClusterSnapshot><Status>creating</Status></DBClusterSnapshot></CreateDBClusterSnapshotResult></CreateDBClusterSnapshotResponse>`) // a fake answering the client under test
	}))
	defer srv.Close()
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": srv.URL, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "x",
		"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_PROFILE": "", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		t.Setenv(k, v)
	}
	r := runApp(t, nil, "db", "snapshot", "-f", example, "--env", "prod", "--cluster-id", "shop-prod", "--json")
	if r.code != ExitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var res struct {
		SnapshotID string `json:"snapshot_id"`
		Status     string
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if got.Get("Action") != "CreateDBClusterSnapshot" || got.Get("DBClusterIdentifier") != "shop-prod" ||
		!strings.HasPrefix(got.Get("DBClusterSnapshotIdentifier"), "shop-main-manual-") || res.Status != "creating" {
		t.Errorf("request %v, result %s", got, r.stdout)
	}

	r = runApp(t, nil, "db", "snapshot", "-f", example, "--env", "prod", "--cluster-id", "c", "--snapshot-id", "bad--id")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "invalid --snapshot-id") {
		t.Errorf("bad id: exit %d %s", r.code, r.stderr)
	}
	r = runApp(t, nil, "db", "snapshot", "-f", example, "--env", "dev")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "not built by Terraform") {
		t.Errorf("dev database: exit %d %s", r.code, r.stderr)
	}
}
