package nomadui

import (
	"strings"
	"testing"
)

func TestLinks(t *testing.T) {
	for _, tc := range []struct {
		addr, ns string
		want     map[string]string
	}{
		{
			// The dev stack: the agent's API address.
			addr: "http://127.0.0.1:24646", ns: "",
			want: map[string]string{
				"base":        "http://127.0.0.1:24646/ui/",
				"job":         "http://127.0.0.1:24646/ui/jobs/pingapp@default",
				"deployments": "http://127.0.0.1:24646/ui/jobs/pingapp@default/deployments",
				"deployment":  "http://127.0.0.1:24646/ui/jobs/pingapp@default/deployments",
				"versions":    "http://127.0.0.1:24646/ui/jobs/pingapp@default/versions",
				"group":       "http://127.0.0.1:24646/ui/jobs/pingapp@default/pingapp-canary",
				"services":    "http://127.0.0.1:24646/ui/jobs/pingapp@default/services",
				"alloc":       "http://127.0.0.1:24646/ui/allocations/5d1b0c62-3c4e-4f0b-9d8e-2a7f0c1e9b11",
			},
		},
		{
			// Production: NOMAD_ADDR behind TLS, another namespace, a
			// trailing slash.
			addr: "https://nomad.shop.example.com:4646/", ns: "shop",
			want: map[string]string{
				"job":   "https://nomad.shop.example.com:4646/ui/jobs/pingapp@shop",
				"alloc": "https://nomad.shop.example.com:4646/ui/allocations/5d1b0c62-3c4e-4f0b-9d8e-2a7f0c1e9b11",
			},
		},
		{
			// --nomad-ui-addr: a UI behind a proxy under a path, given
			// with the /ui suffix people copy from the browser.
			addr: "https://ops.example.com/nomad/ui/", ns: "default",
			want: map[string]string{
				"base":     "https://ops.example.com/nomad/ui/",
				"versions": "https://ops.example.com/nomad/ui/jobs/pingapp@default/versions",
			},
		},
	} {
		l, err := New(tc.addr, tc.ns)
		if err != nil {
			t.Fatalf("New(%q): %v", tc.addr, err)
		}
		got := map[string]string{
			"base":        l.Base(),
			"job":         l.Job("pingapp"),
			"deployments": l.Deployments("pingapp"),
			"deployment":  l.Deployment("pingapp", "0b8c1f44-aaaa-bbbb-cccc-1234567890ab"),
			"versions":    l.Versions("pingapp"),
			"group":       l.TaskGroup("pingapp", "pingapp-canary"),
			"services":    l.Services("pingapp"),
			"alloc":       l.Allocation("5d1b0c62-3c4e-4f0b-9d8e-2a7f0c1e9b11"),
		}
		for k, want := range tc.want {
			if got[k] != want {
				t.Errorf("%s %s: %q, want %q", tc.addr, k, got[k], want)
			}
		}
	}
}

func TestLinksEscape(t *testing.T) {
	l, _ := New("http://127.0.0.1:4646", "team a")
	if got, want := l.TaskGroup("my job", "web/1"), "http://127.0.0.1:4646/ui/jobs/my%20job@team%20a/web%2F1"; got != want {
		t.Errorf("TaskGroup = %q, want %q", got, want)
	}
}

func TestNoLinks(t *testing.T) {
	var zero Links
	l, err := New("", "default")
	if err != nil || l != zero {
		t.Fatalf("New(\"\") = %v, %v; want no links", l, err)
	}
	if l.Job("pingapp") != "" || l.Allocation("x") != "" || l.Deployment("pingapp", "d") != "" {
		t.Error("links without an address")
	}
	real, _ := New("http://127.0.0.1:4646", "")
	if real.Deployment("pingapp", "") != "" || real.Job("") != "" || real.TaskGroup("pingapp", "") != "" {
		t.Error("a link to nothing: empty deployment, job or group gave a URL")
	}
}

func TestBadAddress(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:4646", "ftp://nomad:4646", "http://", "http://nomad:4646/?x=1", "::"} {
		_, err := New(addr, "")
		if err == nil {
			t.Errorf("New(%q) accepted", addr)
			continue
		}
		if !strings.Contains(err.Error(), "nomad UI address") {
			t.Errorf("New(%q): %v does not say what is wrong", addr, err)
		}
	}
}
