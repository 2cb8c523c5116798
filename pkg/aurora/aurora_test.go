package aurora

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/rds"
)

// fakeRDS answers at the HTTP transport, as RDS's Query API would, and
// keeps every request the SDK sent.
type fakeRDS struct {
	reqs   []*http.Request
	bodies []url.Values
}

func (f *fakeRDS) Do(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(b))
	f.reqs, f.bodies = append(f.reqs, r), append(f.bodies, form)
	var xml string
	switch form.Get("Action") {
	case "CreateDBClusterSnapshot":
		xml = `<CreateDBClusterSnapshotResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><CreateDBClusterSnapshotResult><DBClusterSnapshot>
<DBClusterSnapshotIdentifier>` + form.Get("DBClusterSnapshotIdentifier") + `</DBClusterSnapshotIdentifier>
<DBClusterIdentifier>` + form.Get("DBClusterIdentifier") + `</DBClusterIdentifier>
<DBClusterSnapshotArn>arn:aws:rds:us-east-1:123456789012:cluster-snapshot:` + form.Get("DBClusterSnapshotIdentifier") + `</DBClusterSnapshotArn>
<Status>creating</Status></DBClusterSnapshot></CreateDBClusterSnapshotResult></CreateDBClusterSnapshotResponse>`
	case "DescribeDBClusterSnapshots":
		xml = `<DescribeDBClusterSnapshotsResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/"><DescribeDBClusterSnapshotsResult><DBClusterSnapshots>
<DBClusterSnapshot><DBClusterSnapshotIdentifier>` + form.Get("DBClusterSnapshotIdentifier") + `</DBClusterSnapshotIdentifier><Status>available</Status></DBClusterSnapshot>
</DBClusterSnapshots></DescribeDBClusterSnapshotsResult></DescribeDBClusterSnapshotsResponse>`
	default:
		return &http.Response{StatusCode: 400, Body: io.NopCloser(strings.NewReader("")), Header: http.Header{}}, nil
	}
	return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"text/xml"}}, Body: io.NopCloser(strings.NewReader(xml)), Request: r}, nil
}

func client(f *fakeRDS) *rds.Client {
	return rds.NewFromConfig(aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		HTTPClient:  f,
	})
}

func TestSnapshotRequest(t *testing.T) {
	f := &fakeRDS{}
	res, err := Snapshot(context.Background(), client(f), Request{
		ClusterID: "shop-prod", SnapshotID: "shop-main-manual-20261201t221500z",
		Tags: map[string]string{"stack": "shop", "created-by": "hstack"},
	}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.reqs) != 1 {
		t.Fatalf("%d requests", len(f.reqs))
	}
	r, form := f.reqs[0], f.bodies[0]
	if r.Method != "POST" || r.URL.Host != "rds.us-east-1.amazonaws.com" {
		t.Errorf("%s %s", r.Method, r.URL)
	}
	if !strings.HasPrefix(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/") ||
		!strings.Contains(r.Header.Get("Authorization"), "/us-east-1/rds/aws4_request") {
		t.Errorf("not SigV4-signed for rds in us-east-1: %q", r.Header.Get("Authorization"))
	}
	for k, v := range map[string]string{
		"Action": "CreateDBClusterSnapshot", "Version": "2014-10-31",
		"DBClusterIdentifier": "shop-prod", "DBClusterSnapshotIdentifier": "shop-main-manual-20261201t221500z",
		"Tags.Tag.1.Key": "created-by", "Tags.Tag.1.Value": "hstack", "Tags.Tag.2.Key": "stack", "Tags.Tag.2.Value": "shop",
	} {
		if form.Get(k) != v {
			t.Errorf("%s = %q, want %q (form %v)", k, form.Get(k), v, form)
		}
	}
	if res.Status != "creating" || !strings.HasSuffix(res.SnapshotARN, ":cluster-snapshot:shop-main-manual-20261201t221500z") {
		t.Errorf("result %+v", res)
	}
}

func TestSnapshotWaitsUntilAvailable(t *testing.T) {
	f := &fakeRDS{}
	res, err := Snapshot(context.Background(), client(f), Request{ClusterID: "c", SnapshotID: "s1"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "available" || len(f.bodies) != 2 || f.bodies[1].Get("Action") != "DescribeDBClusterSnapshots" {
		t.Errorf("result %+v after %d requests", res, len(f.bodies))
	}
}

func TestSnapshotIDRules(t *testing.T) {
	if id := DefaultSnapshotID("Shop", "main", time.Date(2026, 12, 1, 22, 15, 0, 0, time.UTC)); id != "shop-main-manual-20261201t221500z" || CheckSnapshotID(id) != nil {
		t.Errorf("default id %q", id)
	}
	for _, bad := range []string{"", "1abc", "a--b", "a-", "a_b", strings.Repeat("a", 256)} {
		if CheckSnapshotID(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	f := &fakeRDS{}
	if _, err := Snapshot(context.Background(), client(f), Request{ClusterID: "c", SnapshotID: "a--b"}, 0); err == nil || len(f.reqs) != 0 {
		t.Errorf("a bad id reached AWS: %v", err)
	}
}
