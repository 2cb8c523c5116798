package terraform

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

// trivy runs `trivy config` offline (embedded checks, no update or version
// check, no telemetry) over terraform/ and packer/ with extra arguments.
func trivy(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := tools.Find("trivy")
	if err != nil {
		testenv.Missing(t, err.Error())
	}
	repo := filepath.Dir(srcDir(t))
	var out strings.Builder
	for _, target := range []string{"terraform", "packer"} {
		if _, err := os.Stat(filepath.Join(repo, target)); err != nil {
			t.Fatalf("%s: %v", target, err)
		}
		cmd := exec.Command(bin, append([]string{"config",
			"--skip-check-update", "--skip-version-check", "--disable-telemetry",
			"--cache-dir", t.TempDir(), "--quiet"}, append(args, target)...)...)
		cmd.Dir = repo
		b, err := cmd.CombinedOutput()
		out.Write(b)
		if err != nil {
			return out.String(), err
		}
	}
	return out.String(), nil
}

// No high or critical finding in the Terraform and Packer code.
func TestTrivyNoHighOrCritical(t *testing.T) {
	out, err := trivy(t, "--severity", "HIGH,CRITICAL", "--exit-code", "1")
	if err != nil {
		t.Fatalf("trivy config found high or critical misconfigurations (%v):\n%s", err, out)
	}
}

// Nor any lower one that is not fixed or accepted inline: the JSON report
// of every severity lists no failure.
func TestTrivyEveryFindingFixedOrAccepted(t *testing.T) {
	out, err := trivy(t, "--format", "json", "--severity", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL")
	if err != nil {
		t.Fatalf("trivy config: %v\n%s", err, out)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var report struct {
			Results []struct {
				Target            string
				Misconfigurations []struct {
					ID, AVDID, Title, Severity, Message, Resolution string
					CauseMetadata                                   struct {
						Resource  string
						StartLine int
					}
				}
			}
		}
		if err := dec.Decode(&report); err != nil {
			t.Fatalf("trivy JSON: %v\n%s", err, out)
		}
		for _, r := range report.Results {
			for _, m := range r.Misconfigurations {
				t.Errorf("%s:%d: %s %s (%s) %s: %s — fix it, or accept it with `# trivy:ignore:%s <why>` above it",
					r.Target, m.CauseMetadata.StartLine, m.Severity, m.AVDID, m.CauseMetadata.Resource, m.Title, m.Message, m.AVDID)
			}
		}
	}
}

var ignoreRe = regexp.MustCompile(`(?:trivy|tfsec):ignore:(\S+)(.*)`)

// Every accepted finding says why, on the ignore comment itself.
func TestTrivyIgnoresAreJustified(t *testing.T) {
	repo := filepath.Dir(srcDir(t))
	n := 0
	for _, target := range []string{"terraform", "packer"} {
		err := filepath.Walk(filepath.Join(repo, target), func(p string, fi os.FileInfo, err error) error {
			if err != nil || fi.IsDir() || !(strings.HasSuffix(p, ".tf") || strings.HasSuffix(p, ".hcl")) {
				return err
			}
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			defer f.Close()
			sc := bufio.NewScanner(f)
			for line := 1; sc.Scan(); line++ {
				m := ignoreRe.FindStringSubmatch(sc.Text())
				if m == nil {
					continue
				}
				n++
				if why := strings.TrimSpace(m[2]); len(strings.Fields(why)) < 6 {
					rel, _ := filepath.Rel(repo, p)
					t.Errorf("%s:%d: ignore of %s without a reason: write why the finding is accepted after the id", rel, line, m[1])
				}
			}
			return sc.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d accepted findings, each justified", n)
}
