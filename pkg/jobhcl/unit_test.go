package jobhcl

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	nomadapi "github.com/hashicorp/nomad/api"
)

func TestFormatDuration(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{500 * time.Millisecond, "500ms"},
		{1500 * time.Millisecond, "1.5s"},
		{10 * time.Second, "10s"},
		{90 * time.Second, "1m30s"},
		{5 * time.Minute, "5m"},
		{time.Hour, "1h"},
		{90 * time.Minute, "1h30m"},
		{2*time.Hour + 30*time.Second, "2h30s"},
		{24 * time.Hour, "24h"},
		{1500 * time.Microsecond, "1.5ms"},
		{3 * time.Microsecond, "3us"},
		{7, "7ns"},
		{-5 * time.Minute, "-5m"},
	} {
		got := FormatDuration(tc.d)
		if got != tc.want {
			t.Errorf("FormatDuration(%d) = %q, want %q", tc.d, got, tc.want)
		}
		back, err := time.ParseDuration(got)
		if err != nil || back != tc.d {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", got, back, err, tc.d)
		}
	}
}

var trickyStrings = []string{
	"", "plain", "${a}", "$${a}", "$$${a}", "$", "${", "%{ if x }", "%%{x}", "{{ .Data }}",
	`back\slash "quoted"`, "tab\there", "unicode ✓ héllo", "line\u2028sep",
	"a\nb\n", "a\nb", "  a\n b\n", "a\n  EOT\n", "EOT\nEOF\nEOH\nEND\n", "\tx\n", "x\r\ny\n",
	"trailing \nx\n", "\n", "\n\n", "a\n\n\nb\n", "a\n   \nb\n", "${NOMAD_ADDR_http}\n{{ key \"x\" }}\n",
	"$\n{\n", "${\n}\n", "x\n\ty\n  z\n",
}

// TestStringsRoundTrip checks quoted strings and heredocs at several
// nesting depths, through hclwrite.Format, without a Nomad.
func TestStringsRoundTrip(t *testing.T) {
	for _, s := range trickyStrings {
		for depth := 0; depth < 4; depth++ {
			checkStringRoundTrip(t, s, depth)
		}
	}
}

func FuzzStringRoundTrip(f *testing.F) {
	for _, s := range trickyStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8Valid(s) || checkNFC(s) != nil {
			t.Skip("not valid UTF-8 in NFC: HCL cannot carry it (Encode rejects it, tested elsewhere)")
		}
		checkStringRoundTrip(t, s, 3)
	})
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

func checkStringRoundTrip(t *testing.T, s string, depth int) {
	t.Helper()
	f := hclwrite.NewEmptyFile()
	w := &writer{body: f.Body()}
	var nest func(w *writer, n int) error
	nest = func(w *writer, n int) error {
		if n == 0 {
			w.attr("x", stringTokens(s, w.depth))
			return nil
		}
		return w.block("b", nil, func(w *writer) error { return nest(w, n-1) })
	}
	if err := nest(w, depth); err != nil {
		t.Fatal(err)
	}
	want := hclwrite.Format(f.Bytes())
	src := format(f)
	if !bytes.Equal(src, want) {
		t.Fatalf("%q at depth %d: format differs from hclwrite.Format:\n%s", s, depth, cmp.Diff(string(want), string(src)))
	}
	file, diags := hclsyntax.ParseConfig(src, "t.hcl", hcl.Pos{Line: 1, Column: 1})
	if diags.HasErrors() {
		t.Fatalf("%q at depth %d: %s\n%s", s, depth, diags, src)
	}
	body := file.Body.(*hclsyntax.Body)
	for range depth {
		body = body.Blocks[0].Body
	}
	v, diags := body.Attributes["x"].Expr.Value(nil)
	if diags.HasErrors() {
		t.Fatalf("%q at depth %d: %s\n%s", s, depth, diags, src)
	}
	if got := v.AsString(); got != s {
		t.Fatalf("%q at depth %d came back as %q:\n%s", s, depth, got, src)
	}
}

func TestHeredocForTemplates(t *testing.T) {
	job := serviceJob()
	out, err := Encode(job)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), " = <<-EOT\n          {{ with secret \"kv/data/web\" }}\n          API_KEY=") {
		t.Errorf("template data not written as an indented heredoc:\n%s", out)
	}
}

func TestServerStateIgnored(t *testing.T) {
	plain, err := Encode(systemJob())
	if err != nil {
		t.Fatal(err)
	}
	job := systemJob()
	job.Status = ptr("running")
	job.Version = ptr(uint64(7))
	job.CreateIndex, job.ModifyIndex, job.JobModifyIndex = ptr(uint64(10)), ptr(uint64(20)), ptr(uint64(20))
	job.SubmitTime = ptr(time.Now().UnixNano())
	job.Stable = ptr(true)
	job.Stop = ptr(false)
	got, err := Encode(job)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(plain) {
		t.Errorf("server state changed the output:\n%s", got)
	}
}

func TestUnrepresentable(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*nomadapi.Job)
		want   string
	}{
		{"no id", func(j *nomadapi.Job) { j.ID = nil }, "no ID"},
		{"stopped", func(j *nomadapi.Job) { j.Stop = ptr(true) }, "Stop is set but has no HCL"},
		{"consul namespace", func(j *nomadapi.Job) { j.ConsulNamespace = ptr("team") }, "ConsulNamespace is set"},
		{"dynamic port with value", func(j *nomadapi.Job) {
			j.TaskGroups[0].Networks[0].DynamicPorts = []nomadapi.Port{{Label: "x", Value: 80}}
		}, "static ports belong in ReservedPorts"},
		{"reserved port without value", func(j *nomadapi.Job) {
			j.TaskGroups[0].Networks[0].ReservedPorts = []nomadapi.Port{{Label: "x"}}
		}, "no static value"},
		{"nil config value", func(j *nomadapi.Job) { j.TaskGroups[0].Tasks[0].Config["x"] = nil }, "parser drops the key"},
		{"dotted config key", func(j *nomadapi.Job) { j.TaskGroups[0].Tasks[0].Config["a.b"] = 1 }, `"a.b" is not an HCL identifier`},
		{"struct in config", func(j *nomadapi.Job) { j.TaskGroups[0].Tasks[0].Config["x"] = struct{}{} }, "has no HCL literal"},
		{"decomposed unicode", func(j *nomadapi.Job) { j.Meta["owner"] = "e\u0301" }, "normal form C"},
		{"decomposed unicode in config", func(j *nomadapi.Job) {
			j.TaskGroups[0].Tasks[0].Config["args"] = []any{"e\u0301"}
		}, "normal form C"},
		{"bytes in config", func(j *nomadapi.Job) { j.TaskGroups[0].Tasks[0].Config["x"] = []byte("x") }, "byte slices"},
		{"dotted service meta", func(j *nomadapi.Job) {
			j.TaskGroups[0].Services[0].Meta = map[string]string{"a.b": "c"}
		}, "only accepts meta as a block"},
		{"named Task.Identity", func(j *nomadapi.Job) {
			j.TaskGroups[0].Tasks[0].Identity = &nomadapi.WorkloadIdentity{Name: "vault_default"}
		}, "only keeps the default identity"},
		{"default identity in Identities", func(j *nomadapi.Job) {
			j.TaskGroups[0].Tasks[0].Identity = nil
			j.TaskGroups[0].Tasks[0].Identities = []*nomadapi.WorkloadIdentity{{Env: true}}
		}, "must be Task.Identity"},
		{"constraint without operator", func(j *nomadapi.Job) {
			j.Constraints = []*nomadapi.Constraint{{LTarget: "a", RTarget: "b"}}
		}, "no operator"},
		{"group scaling without max", func(j *nomadapi.Job) {
			j.TaskGroups[0].Scaling = &nomadapi.ScalingPolicy{Min: ptr(int64(1))}
		}, "needs max"},
		{"task scaling of unknown type", func(j *nomadapi.Job) {
			j.TaskGroups[0].Tasks[0].ScalingPolicies = []*nomadapi.ScalingPolicy{{Type: "horizontal"}}
		}, "no jobspec label"},
		{"deprecated expose config", func(j *nomadapi.Job) {
			j.TaskGroups[0].Services[0].Connect = &nomadapi.ConsulConnect{SidecarService: &nomadapi.ConsulSidecarService{
				Proxy: &nomadapi.ConsulProxy{ExposeConfig: &nomadapi.ConsulExposeConfig{
					Paths: []*nomadapi.ConsulExposePath{{Path: "/health"}},
				}},
			}}
		}, "ExposeConfig is set but has no HCL"},
		{"volume key mismatch", func(j *nomadapi.Job) {
			j.TaskGroups[0].Volumes = map[string]*nomadapi.VolumeRequest{"data": {Name: "other", Type: "host"}}
		}, "must equal the map key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j := serviceJob()
			tc.mutate(j)
			_, err := Encode(j)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := Encode(nil); err == nil {
		t.Error("Encode(nil) succeeded")
	}
}

// TestHeredocReadsBack holds heredocReadsBack to HCL's own parser: for
// every tricky string at every depth, and for strings a plain space check
// would get wrong (Unicode spaces, a combining mark after the indent), it
// accepts a heredoc exactly when the parser reads it back as the string.
func TestHeredocReadsBack(t *testing.T) {
	extra := []string{
		"\u00a0a\nb\n", "\u3000x\n\u3000y\n", "a\n\u2003b\n", " \u0301x\ny\n", "x\n \u0301y\n",
		"é\n  ü\n", "a\n\n\nb\n", "${x}\n$${y}\n%%{z}\n", "$$\n$\n",
	}
	for _, s := range append(append([]string(nil), trickyStrings...), extra...) {
		for depth := range 4 {
			toks, ok := heredocTokens(s, depth)
			if !ok {
				continue
			}
			var src bytes.Buffer
			_, _ = toks.WriteTo(&src)
			src.WriteString("\n")
			expr, diags := hclsyntax.ParseExpression(src.Bytes(), "heredoc", hcl.Pos{Line: 1, Column: 1})
			if diags.HasErrors() {
				t.Errorf("%q depth %d: accepted, but HCL cannot parse it: %s", s, depth, diags)
				continue
			}
			v, diags := expr.Value(nil)
			if diags.HasErrors() || v.AsString() != s {
				t.Errorf("%q depth %d: accepted, but HCL reads %q", s, depth, v.AsString())
			}
		}
	}
	// And the other way: what the parser would accept is accepted, for
	// the strings whose heredoc is well formed.
	for _, s := range []string{"a\nb\n", "x\n  y\n", "${NOMAD_ADDR_http}\n{{ key \"x\" }}\n", "é\n  ü\n"} {
		if _, ok := heredocTokens(s, 2); !ok {
			t.Errorf("%q: refused as a heredoc", s)
		}
	}
}

func TestValidIdentifierIsHCLs(t *testing.T) {
	for _, s := range []string{"", "a", "LOG_LEVEL", "a-b", "a1", "1a", "_a", "-a", "a.b", "a b", "true", "for",
		"héllo", "é", "a\u0301", "x_", "x-", "ü1", "a$", "${a}", "中文"} {
		if got, want := validIdentifier(s), hclsyntax.ValidIdentifier(s); got != want {
			t.Errorf("validIdentifier(%q) = %v, hclsyntax says %v", s, got, want)
		}
	}
}
