package browsertest

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// TestCheck proves the checks on a local server: what a page shows is
// found once its script renders it; blank pages, HTTP errors, error texts
// and missing text fail, naming the page's failed requests; every page
// leaves a PNG.
func TestCheck(t *testing.T) {
	if testing.Short() {
		t.Skip("starts chromium")
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/app":
			// Rendered late, like a single-page app after its API calls.
			fmt.Fprint(w, `<html><body><script>setTimeout(() => { document.body.innerHTML = "<h1>pingapp</h1><p>Promote Canary</p>" }, 500)</script></body></html>`)
		case "/blank":
			fmt.Fprint(w, `<html><body></body></html>`)
		case "/spa":
			// A single-page app whose API call fails: it shows nothing of it.
			fmt.Fprint(w, `<html><body><h1>jobs</h1><script>fetch("/v1/jobs")</script></body></html>`)
		case "/broken":
			fmt.Fprint(w, `<html><body><h1>Not Found</h1></body></html>`)
		default:
			http.Error(w, "nope", http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	b := Start(t)

	seen, err := b.Check(Page{Name: "app", URL: srv.URL + "/app", Want: []string{"pingapp", "Promote Canary"}})
	if err != nil {
		t.Fatal(err)
	}
	if png, err := os.ReadFile(seen.Screenshot); err != nil || len(png) < 8 || string(png[1:4]) != "PNG" {
		t.Errorf("screenshot %s is not a PNG: %v", seen.Screenshot, err)
	}
	for _, tc := range []struct {
		page Page
		want string
	}{
		{Page{Name: "blank", URL: srv.URL + "/blank", Timeout: 3 * time.Second}, "is blank"},
		{Page{Name: "http", URL: srv.URL + "/500"}, "HTTP 500"},
		{Page{Name: "error", URL: srv.URL + "/broken", Want: []string{"pingapp"}, Errors: []string{"Not Found"}}, `shows "Not Found"`},
		{Page{Name: "missing", URL: srv.URL + "/app", Want: []string{"Versions"}, Timeout: 3 * time.Second}, `does not show "Versions"`},
		{Page{Name: "api", URL: srv.URL + "/spa", Want: []string{"pingapp"}, Timeout: 3 * time.Second}, "/v1/jobs: HTTP 500"},
		{Page{Name: "refused", URL: "http://" + closedPort(t) + "/"}, "ERR_CONNECTION_REFUSED"},
	} {
		_, err := b.Check(tc.page)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", tc.page.Name, err, tc.want)
		}
		if _, serr := os.Stat(b.Dir + "/" + tc.page.Name + ".png"); serr != nil && tc.page.Name != "refused" {
			t.Errorf("%s: no screenshot: %v", tc.page.Name, serr)
		}
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // it only picked a free port
	return addr
}
