// Package browsertest opens pages in a real browser for integration tests:
// Debian's chromium, headless, driven over the DevTools protocol with
// chromedp. A test asserts what a person sees (the page's rendered text),
// and every page is saved as a PNG screenshot.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/hstack-dev/hstack/pkg/testenv"
)

// Screenshot size: wide enough for the Nomad UI's job page without its
// responsive layout folding, small enough to keep the committed PNGs small.
const (
	Width  = 1280
	Height = 900
)

// ScreenshotsEnv names a directory that receives copies of the screenshots
// a test marks for the docs (`make screenshots`).
const ScreenshotsEnv = "HSTACK_SCREENSHOTS"

// KeepEnv, when set, keeps every test's screenshots; they are always kept
// when the test fails, and `go test -artifacts` keeps them under
// -outputdir.
const KeepEnv = "HSTACK_KEEP_SCREENSHOTS"

// Browser is one headless chromium for a test.
type Browser struct {
	ctx context.Context
	// Dir holds the screenshots.
	Dir string

	mu sync.Mutex
	// failed are the requests of the page being checked that failed or
	// answered an HTTP error: a single-page app shows little of a failed
	// API call, so a check that fails says which.
	failed []string
	urls   map[network.RequestID]string // of the page's requests
}

// Find returns Debian's chromium.
func Find() (string, error) {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("chromium not found on PATH (Debian package chromium; `make deps` installs it)")
}

// Start launches chromium for t and stops it when t ends. A missing
// chromium skips the test outside CI and fails it in CI.
func Start(t testing.TB) *Browser {
	t.Helper()
	bin, err := Find()
	if err != nil {
		testenv.Missing(t, "browser test: "+err.Error())
	}
	dir, err := screenshotDir(t)
	if err != nil {
		t.Fatal(err)
	}
	profile := t.TempDir()
	// A closed network: every flag that stops chromium from calling home
	// (component updates, sync, QUIC probes, field trials) avoids a stall
	// or a failure; a fresh profile keeps runs independent.
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("mute-audio", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(Width, Height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	// The first action starts the browser; it must not run under a
	// timeout, which would stop the browser with it.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(Width, Height)); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	b := &Browser{ctx: ctx, Dir: dir, urls: map[network.RequestID]string{}}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *Browser) onEvent(ev any) {
	var f string
	switch e := ev.(type) {
	case *network.EventRequestWillBeSent:
		b.mu.Lock()
		b.urls[e.RequestID] = e.Request.Method + " " + e.Request.URL
		b.mu.Unlock()
	case *network.EventResponseReceived:
		if e.Response.Status >= 400 {
			f = fmt.Sprintf("%s: HTTP %d", e.Response.URL, e.Response.Status)
		}
	case *network.EventLoadingFailed:
		// Watchers abort their blocking queries on every page change.
		if !e.Canceled {
			b.mu.Lock()
			f = fmt.Sprintf("%s: %s", b.urls[e.RequestID], e.ErrorText)
			b.mu.Unlock()
		}
	}
	if f != "" {
		b.mu.Lock()
		b.failed = append(b.failed, f)
		b.mu.Unlock()
	}
}

// failures reports the failed requests since the last call.
func (b *Browser) failures() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	failed := b.failed
	b.failed, b.urls = nil, map[network.RequestID]string{}
	if len(failed) == 0 {
		return ""
	}
	return "\n  failed requests:\n    " + strings.Join(failed, "\n    ")
}

// screenshotDir is where t's screenshots go: with `go test -artifacts`,
// t's artifact directory (under -outputdir, kept); otherwise a temporary
// directory, removed after the test unless it failed or KeepEnv is set
// (t.ArtifactDir alone would lose a failed run's screenshots).
func screenshotDir(t testing.TB) (string, error) {
	if f := flag.Lookup("test.artifacts"); f != nil && f.Value.String() == "true" {
		return t.ArtifactDir(), nil
	}
	dir, err := os.MkdirTemp("", "hstack-screenshots-")
	if err != nil {
		return "", err
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv(KeepEnv) != "" {
			t.Logf("screenshots kept in %s", dir)
			return
		}
		_ = os.RemoveAll(dir) // best effort, like t.TempDir's own cleanup
	})
	return dir, nil
}

// Page says what to open and what a person must see there.
type Page struct {
	// Name names the screenshot, <Name>.png.
	Name string
	URL  string
	// Want are texts that must all be visible; the page is given until
	// Timeout (default two minutes) to show them, since single-page apps
	// render after their API calls return.
	Want []string
	// Errors are texts that mean the page shows an error (besides a blank
	// page, an HTTP error and chromium's own error pages, always checked).
	Errors []string
	// Docs copies the screenshot to $HSTACK_SCREENSHOTS/<Docs>.png.
	Docs    string
	Timeout time.Duration
}

// Seen is what the browser showed.
type Seen struct {
	Text       string // the page's visible text
	URL        string // where the page ended up (single-page apps redirect)
	Screenshot string // path of the PNG
	Docs       string // path of its copy for the docs, if any
}

// chromium's error pages ("This site can't be reached", ERR_...).
var chromeError = regexp.MustCompile(`\bERR_[A-Z_]+\b|This site can.t be reached|This page isn.t working`)

// Open loads p and checks it (see Check), failing t when the check fails.
func (b *Browser) Open(t testing.TB, p Page) Seen {
	t.Helper()
	seen, err := b.Check(p)
	if seen.Docs != "" {
		t.Logf("%s: screenshot for the docs: %s", p.Name, seen.Docs)
	}
	if err != nil {
		t.Fatal(err)
	}
	return seen
}

// Check loads p and returns an error when the page answers an HTTP error,
// is blank, shows an error or does not show what p wants. The screenshot is
// taken either way.
func (b *Browser) Check(p Page) (Seen, error) {
	timeout := p.Timeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	seen := Seen{Screenshot: filepath.Join(b.Dir, p.Name+".png")}
	b.failures() // the previous page's
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(p.URL))
	if err != nil {
		return seen, fmt.Errorf("%s: open %s: %w", p.Name, p.URL, err)
	}
	if resp.Status >= 400 {
		return seen, errors.Join(fmt.Errorf("%s: %s answered HTTP %d %s", p.Name, p.URL, resp.Status, resp.StatusText), b.screenshot(&seen, p))
	}
	// Wait until every wanted text is visible, or an error is.
	pred := fmt.Sprintf(`(() => {
		const text = document.body ? document.body.innerText : "";
		if (%s.some(e => text.includes(e))) return "error";
		return %s.every(w => text.includes(w)) && text.trim() !== "" ? "ok" : false;
	})()`, jsStrings(p.Errors), jsStrings(p.Want))
	_, waitErr := chromedp.Run(ctx, chromedp.Poll[string](pred, chromedp.WithPollingInterval(250*time.Millisecond), chromedp.WithPollingTimeout(0)))
	// Let images and charts settle before the screenshot; what is asserted
	// is already there.
	settle, cancelSettle := context.WithTimeout(b.ctx, 10*time.Second)
	// A page that never settles is still read and asserted on below.
	_, _ = chromedp.Run(settle, chromedp.Poll[bool](`document.readyState === "complete"`, chromedp.WithPollingTimeout(0)))
	cancelSettle()
	read, cancelRead := context.WithTimeout(b.ctx, time.Minute)
	defer cancelRead()
	seen.Text, _ = chromedp.Run(read, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	seen.URL, _ = chromedp.Run(read, chromedp.Location())
	if err := b.screenshot(&seen, p); err != nil {
		return seen, err
	}
	switch {
	case strings.TrimSpace(seen.Text) == "":
		return seen, fmt.Errorf("%s: %s is blank (screenshot %s)", p.Name, p.URL, seen.Screenshot)
	case chromeError.MatchString(seen.Text):
		return seen, fmt.Errorf("%s: %s: chromium shows an error (screenshot %s):\n%s", p.Name, p.URL, seen.Screenshot, firstLines(seen.Text, 5))
	}
	for _, e := range p.Errors {
		if strings.Contains(seen.Text, e) {
			return seen, fmt.Errorf("%s: %s shows %q (screenshot %s):\n%s", p.Name, p.URL, e, seen.Screenshot, firstLines(seen.Text, 40))
		}
	}
	if waitErr != nil {
		var missing []string
		for _, w := range p.Want {
			if !strings.Contains(seen.Text, w) {
				missing = append(missing, fmt.Sprintf("%q", w))
			}
		}
		return seen, fmt.Errorf("%s: %s does not show %s within %v (screenshot %s); it shows:\n%s%s",
			p.Name, p.URL, strings.Join(missing, ", "), timeout, seen.Screenshot, firstLines(seen.Text, 60), b.failures())
	}
	return seen, nil
}

func (b *Browser) screenshot(seen *Seen, p Page) error {
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return fmt.Errorf("%s: screenshot: %w", p.Name, err)
	}
	if err := os.WriteFile(seen.Screenshot, png, 0o644); err != nil {
		return err
	}
	if dir := os.Getenv(ScreenshotsEnv); dir != "" && p.Docs != "" {
		seen.Docs = filepath.Join(dir, p.Docs+".png")
		return os.WriteFile(seen.Docs, png, 0o644)
	}
	return nil
}

// jsStrings is a JavaScript array literal of ss (JSON is one).
func jsStrings(ss []string) string {
	if ss == nil {
		ss = []string{}
	}
	b, _ := json.Marshal(ss)
	return string(b)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	return "    " + strings.Join(lines, "\n    ")
}
