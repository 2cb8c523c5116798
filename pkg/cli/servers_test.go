package cli

import "testing"

func TestDescribeServers(t *testing.T) {
	line, none := describeServers([]serverProbe{
		{Addr: "127.0.0.11:4646", Err: "dial tcp 127.0.0.11:4646: connect: connection refused"},
		{Addr: "127.0.0.12:4646", Up: true, Leader: "127.0.0.12:4647"},
		{Addr: "127.0.0.13:4646", Up: true, Leader: "127.0.0.12:4647"},
	})
	want := "nomad servers: 2 of 3 up: 127.0.0.11:4646 DOWN (dial tcp 127.0.0.11:4646: connect: connection refused), 127.0.0.12:4646 up (leader), 127.0.0.13:4646 up"
	if line != want || none {
		t.Errorf("got %q, %v\nwant %q", line, none, want)
	}
	if _, none := describeServers([]serverProbe{{Addr: "a:1", Err: "no answer within 3s"}}); !none {
		t.Error("all down not reported")
	}
}
