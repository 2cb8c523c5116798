package provision

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hstack-dev/hstack/pkg/testenv"
	"github.com/hstack-dev/hstack/pkg/tools"
)

const scripts = "../../scripts/provision"

func TestNodeArgs(t *testing.T) {
	n := Node{Role: "client", Root: "/r", Name: "c1", Bind: "127.0.0.21", Servers: []string{"127.0.0.11", "127.0.0.12"},
		Zone: "a", RawExec: true, MinDynamicPort: 21000, MaxDynamicPort: 21999,
		Extra: map[string][]string{"nomad": {"/x/ports.hcl"}, "consul": {"/x/c.hcl"}}}
	want := []string{"--root", "/r", "--join", "static", "--skip-packages", "--phase", "configure", "--mode", "dev",
		"--servers", "127.0.0.11,127.0.0.12", "--bind", "127.0.0.21", "--client-addr", "127.0.0.21", "--node-name", "c1",
		"--zone", "a", "--min-dynamic-port", "21000", "--max-dynamic-port", "21999", "--raw-exec",
		"--extra-config", "consul=/x/c.hcl", "--extra-config", "nomad=/x/ports.hcl"}
	if got := n.Args(""); !reflect.DeepEqual(got, want) {
		t.Errorf("Args:\n got %q\nwant %q", got, want)
	}
	n = Node{Root: "/r", Secure: true}
	got := strings.Join(n.Args("/mirror"), " ")
	if !strings.Contains(got, "--source /mirror --phase all --mode prod") {
		t.Errorf("secure node with a source: %s", got)
	}
	if got := strings.Join(Node{Role: "vault", Root: "/r", VaultRaftMultiplier: 1}.Args(""), " "); !strings.HasSuffix(got, " --raft-performance-multiplier 1") {
		t.Errorf("vault node with fast Raft: %s", got)
	}
}

// env holds what every script test needs: the real binaries, published
// as a local release mirror.
type env struct {
	bins   map[string]string // product -> real binary
	mirror string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	for _, tool := range []string{"unzip", "sha256sum", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is not installed (make deps)")
		}
	}
	e := &env{bins: map[string]string{}, mirror: t.TempDir()}
	var rels []Release
	for _, p := range []string{"consul", "nomad", "vault"} {
		bin, err := tools.Find(p)
		if err != nil {
			testenv.Missing(t, err.Error())
		}
		e.bins[p] = bin
		rels = append(rels, Release{Name: p, Version: tools.Version(p), Binary: bin})
	}
	if err := WriteMirror(e.mirror, rels); err != nil {
		t.Fatal(err)
	}
	return e
}

// run runs a role script and returns its exit code and stderr.
func run(t *testing.T, role string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(filepath.Join(scripts, role+".sh"), args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), stderr.String()
		}
		t.Fatal(err)
	}
	return 0, stderr.String()
}

// must runs name with args and fails the test with its output when it fails.
func must(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// tlsDir makes a CA and certificates for every product with the real
// `consul tls` commands, named as the scripts' --tls-dir wants them.
func (e *env) tlsDir(t *testing.T, server bool) string {
	t.Helper()
	d := t.TempDir()
	must(t, d, e.bins["consul"], "tls", "ca", "create")
	kind := "-client"
	if server {
		kind = "-server"
	}
	must(t, d, e.bins["consul"], "tls", "cert", "create", kind, "-dc", "dc1")
	// With another -domain, consul looks for <domain>-agent-ca.pem: name the one CA.
	ca := []string{"-ca", "consul-agent-ca.pem", "-key", "consul-agent-ca-key.pem"}
	must(t, d, e.bins["consul"], append([]string{"tls", "cert", "create", kind, "-dc", "global", "-domain", "nomad"}, ca...)...)
	must(t, d, e.bins["consul"], append([]string{"tls", "cert", "create", "-server", "-dc", "vault", "-domain", "hstack"}, ca...)...)
	rename := func(glob, to string) {
		m, _ := filepath.Glob(filepath.Join(d, glob))
		if len(m) != 1 {
			t.Fatalf("%s: %v", glob, m)
		}
		if err := os.Rename(m[0], filepath.Join(d, to)); err != nil {
			t.Fatal(err)
		}
	}
	rename("consul-agent-ca.pem", "ca.pem")
	role := "client"
	if server {
		role = "server"
	}
	rename("dc1-"+role+"-consul-0-key.pem", "consul-key.pem")
	rename("dc1-"+role+"-consul-0.pem", "consul.pem")
	rename("global-"+role+"-nomad-0-key.pem", "nomad-key.pem")
	rename("global-"+role+"-nomad-0.pem", "nomad.pem")
	rename("vault-server-hstack-0-key.pem", "vault-key.pem")
	rename("vault-server-hstack-0.pem", "vault.pem")
	return d
}

func (e *env) gossipKey(t *testing.T) string {
	t.Helper()
	key := strings.TrimSpace(must(t, "", e.bins["consul"], "keygen"))
	f := filepath.Join(t.TempDir(), "gossip.key")
	if err := os.WriteFile(f, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

func sameFile(t *testing.T, a, b string) {
	t.Helper()
	x, err := os.ReadFile(a)
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x, y) {
		t.Fatalf("%s differs from the released %s", a, b)
	}
}

// Every role, in production and in development mode, from the local mirror
// into a temporary root: the binaries installed are the released ones and
// run, and every config rendered passes the agents' own validation.
func TestRolesInstallAndRenderValidConfigs(t *testing.T) {
	e := newEnv(t)
	type tc struct {
		role, mode, join string
	}
	var cases []tc
	for _, role := range Roles {
		cases = append(cases, tc{role, "prod", "aws"}, tc{role, "dev", "static"})
	}
	// Vault off AWS in production: TLS with the Shamir seal.
	cases = append(cases, tc{"vault", "prod", "static"})
	for _, c := range cases {
		t.Run(c.role+"/"+c.mode+"/"+c.join, func(t *testing.T) {
			root := t.TempDir()
			args := []string{"--source", e.mirror, "--root", root, "--mode", c.mode, "--join", c.join, "--skip-packages",
				"--node-name", c.role + "-1"}
			if c.join == "static" {
				args = append(args, "--servers", "127.0.0.11,127.0.0.12,127.0.0.13", "--bind", "127.0.0.11",
					"--client-addr", "127.0.0.11", "--vault-peers", "http://127.0.0.31:8200,http://127.0.0.32:8200")
				// How a local cluster keeps off the standard ports: a file
				// the agent merges with the rendered config.
				extra := t.TempDir()
				if err := os.WriteFile(filepath.Join(extra, "ports.hcl"), []byte("ports {\n  dns = -1\n  http = 18500\n}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(extra, "nomad-ports.hcl"), []byte("ports {\n  http = 14646\n}\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				args = append(args, "--extra-config", "consul="+filepath.Join(extra, "ports.hcl"),
					"--extra-config", "nomad="+filepath.Join(extra, "nomad-ports.hcl"))
				if c.role == "client" {
					args = append(args, "--zone", "zone-b")
				}
			} else {
				args = append(args, "--tag-key", "hstack-cluster", "--tag-value", "prod", "--aws-region", "eu-west-1")
			}
			var kms *fakeKMS
			if c.role == "vault" {
				// Off the standard ports; in AWS mode on loopback too, so
				// Vault's own config loading can bind its listener.
				args = append(args, "--vault-port", freePort(t), "--vault-cluster-port", freePort(t))
				if c.mode == "dev" {
					// The loopback cluster's fast elections.
					args = append(args, "--raft-performance-multiplier", "1")
				}
				if c.join == "aws" {
					kms = newFakeKMS(t)
					args = append(args, "--bind", "127.0.0.1", "--kms-key-id", kms.keyID)
				}
			}
			if c.mode == "prod" {
				args = append(args, "--tls-dir", e.tlsDir(t, c.role == "server"),
					"--gossip-key-file", e.gossipKey(t), "--nomad-gossip-key-file", e.gossipKey(t))
			}
			if code, out := run(t, c.role, args...); code != 0 {
				t.Fatalf("%s.sh exit %d:\n%s", c.role, code, out)
			}
			for _, p := range Products[c.role] {
				bin := filepath.Join(root, "usr", "local", "bin", p)
				sameFile(t, bin, e.bins[p])
				if out := must(t, "", bin, "version"); !strings.Contains(out, "v"+tools.Version(p)) {
					t.Errorf("%s version: %s", p, out)
				}
				if _, err := os.Stat(filepath.Join(root, "etc", "systemd", "system", p+".service")); err != nil {
					t.Errorf("no unit for %s: %v", p, err)
				}
			}
			consulDir := ConfigDir(root, "consul")
			must(t, "", e.bins["consul"], "validate", consulDir)
			if c.role == "client" && c.join == "aws" {
				// The zone is the instance's, asked of IMDS before Nomad starts.
				imdsZone(t, root)
			}
			if c.role != "vault" {
				must(t, "", e.bins["nomad"], "config", "validate", ConfigDir(root, "nomad"))
			} else {
				validateVault(t, e, root, kms)
			}
			checkRendered(t, root, c.role, c.mode, c.join)
			verifySystemd(t, root, c.role)
		})
	}
}

// checkRendered asserts what production mode promises, on the files.
func checkRendered(t *testing.T, root, role, mode, join string) {
	t.Helper()
	read := func(rel string) string {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	consul := read("etc/consul.d/consul.hcl")
	if join == "aws" && !strings.Contains(consul, `retry_join  = ["provider=aws tag_key=hstack-cluster tag_value=prod"]`) {
		t.Errorf("consul.hcl lacks the EC2 tag auto-join:\n%s", consul)
	}
	if join == "static" && !strings.Contains(consul, `retry_join  = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]`) {
		t.Errorf("consul.hcl lacks the static join:\n%s", consul)
	}
	if mode == "prod" {
		for _, want := range []string{`default_policy           = "deny"`, "verify_incoming = true", "verify_outgoing = true", "verify_server_hostname = true"} {
			if !strings.Contains(consul, want) {
				t.Errorf("consul.hcl lacks %q", want)
			}
		}
		if enc := read("etc/consul.d/encrypt.hcl"); !strings.Contains(enc, "encrypt = ") {
			t.Errorf("no gossip key in encrypt.hcl")
		}
		if strings.Contains(consul, "encrypt =") {
			t.Errorf("the gossip key is in consul.hcl; it belongs in encrypt.hcl only")
		}
	}
	switch role {
	case "server", "client":
		nomad := read("etc/nomad.d/nomad.hcl")
		if role == "client" && join == "static" && !strings.Contains(nomad, "  meta {\n    zone = \"zone-b\"\n") {
			t.Errorf("nomad.hcl lacks the --zone in node meta:\n%s", nomad)
		}
		if role == "client" && join == "aws" && !strings.Contains(read("etc/systemd/system/nomad.service"), "ExecStartPre=+"+root+"/usr/local/bin/hstack-nomad-zone\n") {
			t.Errorf("nomad.service does not ask IMDS for the zone before starting")
		}
		if mode == "prod" {
			for _, want := range []string{"acl {\n  enabled = true", "verify_server_hostname = true", "verify_https_client    = false"} {
				if !strings.Contains(nomad, want) {
					t.Errorf("nomad.hcl lacks %q", want)
				}
			}
		}
		// A production client drains when systemd stops it (SIGINT, so
		// leave_on_interrupt), and systemd waits out the drain's deadline;
		// a server leaves no Raft group on a stop, and a dev client does
		// not drain (dev down stops every client at once).
		drains := role == "client" && mode == "prod"
		unit := read("etc/systemd/system/nomad.service")
		for _, want := range []string{"drain_on_shutdown {\n    deadline           = \"5m\"", "leave_on_interrupt = true"} {
			if strings.Contains(nomad, want) != drains {
				t.Errorf("%s %s nomad.hcl: has %q = %v, want %v", mode, role, want, !drains, drains)
			}
		}
		if strings.Contains(unit, "TimeoutStopSec=360") != drains {
			t.Errorf("%s %s nomad.service: TimeoutStopSec=360 (the 5m drain and a minute) = %v, want %v", mode, role, !drains, drains)
		}
		if role == "client" {
			watch := filepath.Join(root, "etc/systemd/system/hstack-termination-watch.service")
			if _, err := os.Stat(watch); (err == nil) != (drains && join == "aws") {
				t.Errorf("%s %s join %s: termination watch unit present = %v, want it only on production clients in AWS", mode, role, join, err == nil)
			}
		}
	case "vault":
		vault := read("etc/vault.d/vault.hcl")
		if !strings.Contains(vault, `storage "raft"`) {
			t.Errorf("vault.hcl: no raft storage")
		}
		// Only where asked for (dev here): production keeps Vault's timing.
		if got, want := strings.Contains(vault, "\n  performance_multiplier = 1\n"), mode == "dev"; got != want {
			t.Errorf("vault.hcl: performance_multiplier = 1 is %v, want %v:\n%s", got, want, vault)
		}
		if join == "aws" && !strings.Contains(vault, `seal "awskms"`) {
			t.Errorf("vault.hcl: no awskms seal in AWS")
		}
		// A stanza, not the header comment that names the seal.
		if join == "static" && strings.Contains(vault, "\nseal \"") {
			t.Errorf("vault.hcl: a seal stanza off AWS (Shamir wanted)")
		}
		if !strings.Contains(read("etc/vault.d/enable-audit.sh"), "vault audit enable file") {
			t.Errorf("no audit device step")
		}
	}
	if join == "static" {
		if !strings.Contains(read("etc/consul.d/ports.hcl"), "18500") {
			t.Errorf("--extra-config not copied into consul.d")
		}
	}
	ssh := read("etc/ssh/sshd_config.d/10-hstack.conf")
	if !strings.Contains(ssh, "PasswordAuthentication no") {
		t.Errorf("sshd: password logins not off")
	}
	for _, f := range []string{"etc/apt/apt.conf.d/20auto-upgrades", "etc/audit/rules.d/hstack.rules", "usr/lib/sysusers.d/hstack-" + role + ".conf"} {
		read(f)
	}
}

// imdsZone runs the client's boot-time zone lookup against a fake IMDSv2
// (token first, as IMDSv2 requires) and checks the meta it wrote.
func imdsZone(t *testing.T, root string) {
	t.Helper()
	const token = "imds-token-1"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPut && r.URL.Path == "/latest/api/token" && r.Header.Get("X-aws-ec2-metadata-token-ttl-seconds") != "":
			fmt.Fprint(w, token)
		case r.Method == http.MethodGet && r.URL.Path == "/latest/meta-data/placement/availability-zone" && r.Header.Get("X-aws-ec2-metadata-token") == token:
			fmt.Fprint(w, "eu-west-1b")
		default:
			http.Error(w, "unauthorized", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	script := filepath.Join(root, "usr", "local", "bin", "hstack-nomad-zone")
	cmd := exec.Command(script)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_SERVICE_ENDPOINT="+srv.URL+"/")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, out)
	}
	b, err := os.ReadFile(filepath.Join(ConfigDir(root, "nomad"), "zone.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if want := "client {\n  meta {\n    zone = \"eu-west-1b\"\n  }\n}\n"; string(b) != want {
		t.Errorf("zone.hcl = %q, want %q", b, want)
	}
	// An IMDS that refuses leaves the agent unstarted, not zoneless.
	cmd = exec.Command(script)
	cmd.Env = append(os.Environ(), "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:"+freePort(t))
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Errorf("%s succeeded with no IMDS:\n%s", script, out)
	}
}

// Vault's Raft timing is a number in Vault's range, or the flag is named.
func TestRaftPerformanceMultiplierChecked(t *testing.T) {
	for _, v := range []string{"0", "11", "fast"} {
		code, out := run(t, "vault", "--phase", "configure", "--root", t.TempDir(), "--mode", "dev", "--join", "static",
			"--servers", "127.0.0.11", "--raft-performance-multiplier", v)
		if code == 0 || !strings.Contains(out, "--raft-performance-multiplier must be 1 to 10, not '"+v+"'") {
			t.Errorf("%s: exit %d:\n%s", v, code, out)
		}
	}
}

// A static client without a zone would sit outside render's
// spread_across_zones: refused, naming the flag.
func TestClientNeedsAZone(t *testing.T) {
	code, out := run(t, "client", "--phase", "configure", "--root", t.TempDir(), "--mode", "dev", "--join", "static", "--servers", "127.0.0.11")
	if code == 0 || !strings.Contains(out, "--zone is needed with --join static") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// A zip that does not match the SHA256SUMS is refused before anything is
// written under the root, even for the products whose zip is fine.
func TestCorruptedZipIsRefused(t *testing.T) {
	e := newEnv(t)
	zip := filepath.Join(e.mirror, "nomad", tools.Version("nomad"), ZipName("nomad", tools.Version("nomad")))
	f, err := os.OpenFile(zip, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt([]byte("corrupt"), 4096); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "root")
	code, out := run(t, "server", "--source", e.mirror, "--root", root, "--join", "static", "--servers", "127.0.0.11", "--skip-packages")
	if code == 0 {
		t.Fatalf("server.sh accepted a corrupted zip:\n%s", out)
	}
	want := ZipName("nomad", tools.Version("nomad")) + " does not match " + SumsName("nomad", tools.Version("nomad"))
	if !strings.Contains(out, want) || !strings.Contains(out, "refusing to install") {
		t.Errorf("message does not say which file failed and why:\n%s", out)
	}
	var files []string
	if err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			files = append(files, p)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(files) > 0 {
		t.Errorf("files written despite the refusal: %v", files)
	}
}

// A SHA256SUMS with a signature is checked against the key given; a
// signature that does not match is refused, as is a signature with no key.
func TestSignedSumsAreVerified(t *testing.T) {
	if _, err := exec.LookPath("gpg"); err != nil {
		testenv.Missing(t, "gpg is not installed")
	}
	e := newEnv(t)
	home := t.TempDir()
	gpg := func(args ...string) string {
		return must(t, "", "gpg", append([]string{"--homedir", home, "--batch", "--pinentry-mode", "loopback", "--passphrase", ""}, args...)...)
	}
	gpg("--quick-gen-key", "hstack test <test@hstack.invalid>", "ed25519", "sign", "never")
	pub := filepath.Join(t.TempDir(), "key.asc")
	if err := os.WriteFile(pub, []byte(gpg("--armor", "--export")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"consul", "nomad"} {
		sums := filepath.Join(e.mirror, p, tools.Version(p), SumsName(p, tools.Version(p)))
		gpg("--detach-sign", "--output", sums+".sig", sums)
	}
	base := []string{"--source", e.mirror, "--join", "static", "--servers", "127.0.0.11", "--skip-packages", "--phase", "install"}
	if code, out := run(t, "server", append(base, "--root", t.TempDir(), "--gpg-key", pub)...); code != 0 || !strings.Contains(out, "signature good") {
		t.Fatalf("good signature: exit %d\n%s", code, out)
	}
	if code, out := run(t, "server", append(base, "--root", t.TempDir())...); code == 0 || !strings.Contains(out, "no --gpg-key") {
		t.Errorf("signed sums without a key: exit %d\n%s", code, out)
	}
	sums := filepath.Join(e.mirror, "nomad", tools.Version("nomad"), SumsName("nomad", tools.Version("nomad")))
	b, _ := os.ReadFile(sums)
	if err := os.WriteFile(sums, append(b, []byte("0000  extra.zip\n")...), 0o644); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if code, out := run(t, "server", append(base, "--root", root, "--gpg-key", pub)...); code == 0 || !strings.Contains(out, "BAD SIGNATURE") {
		t.Errorf("tampered sums: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(root, "usr", "local", "bin", "consul")); err == nil {
		t.Errorf("consul installed although nomad's sums failed their signature")
	}
}

// shellcheck over every script in scripts/, as `make lint` does.
func TestShellcheck(t *testing.T) {
	sc, err := exec.LookPath("shellcheck")
	if err != nil {
		testenv.Missing(t, "shellcheck is not installed (Debian package shellcheck; make deps)")
	}
	files, _ := filepath.Glob("../../scripts/*.sh")
	more, _ := filepath.Glob("../../scripts/*/*.sh")
	files = append(files, more...)
	if len(files) < 4 {
		t.Fatalf("found only %v", files)
	}
	out, err := exec.Command(sc, append([]string{"-x", "-P", "SCRIPTDIR"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("shellcheck: %v\n%s", err, out)
	}
}

// validateVault asks the real Vault to load the rendered config: it parses
// it, opens the Raft storage, configures the seal and binds the listeners,
// then exits (`vault server -test-verify-only`, a hidden flag Vault's own
// tests use, chosen over `vault operator diagnose`, whose checks include
// the seal's and storage's reachability). The awskms seal asks KMS for its key
// while it is configured: kms, when set, stands in for KMS on loopback
// (AWS_KMS_ENDPOINT) and must have been asked for the rendered key.
func validateVault(t *testing.T, e *env, root string, kms *fakeKMS) {
	t.Helper()
	cmd := exec.Command(e.bins["vault"], "server", "-test-verify-only", "-config", filepath.Join(ConfigDir(root, "vault"), "vault.hcl"))
	cmd.Env = append(os.Environ(), "VAULT_LOG_LEVEL=warn")
	if kms != nil {
		cmd.Env = append(cmd.Env, "AWS_KMS_ENDPOINT="+kms.srv.URL, "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=test",
			"AWS_EC2_METADATA_DISABLED=true")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vault server -test-verify-only: %v\n%s", err, out)
	}
	if kms != nil && kms.asked.Load() == 0 {
		t.Errorf("Vault never asked KMS for key %s: the awskms seal was not configured\n%s", kms.keyID, out)
	}
}

// fakeKMS answers KMS DescribeKey for one key id.
type fakeKMS struct {
	srv   *httptest.Server
	keyID string
	asked atomic.Int32
}

func newFakeKMS(t *testing.T) *fakeKMS {
	k := &fakeKMS{keyID: "0f1e2d3c-aaaa-bbbb-cccc-123456789abc"}
	k.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct{ KeyId string }
		_ = json.NewDecoder(r.Body).Decode(&in) // a body that does not decode leaves KeyId empty: refused below
		if r.Header.Get("X-Amz-Target") != "TrentService.DescribeKey" || in.KeyId != k.keyID {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"__type":"NotFoundException","message":"unexpected %s for %q"}`, r.Header.Get("X-Amz-Target"), in.KeyId)
			return
		}
		k.asked.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprintf(w, `{"KeyMetadata":{"KeyId":%q,"Arn":"arn:aws:kms:eu-west-1:111122223333:key/%s","KeyState":"Enabled","Enabled":true}}`, k.keyID, k.keyID)
	}))
	t.Cleanup(k.srv.Close)
	return k
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return fmt.Sprint(l.Addr().(*net.TCPAddr).Port)
}

// verifySystemd checks the rendered units and users with systemd's own
// parsers: systemd-analyze verify warns about every unknown key or bad
// value (and exits 0), so any output is a failure.
func verifySystemd(t *testing.T, root, role string) {
	t.Helper()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		testenv.Missing(t, "systemd-analyze is not installed (Debian package systemd)")
	}
	var units []string
	for _, p := range Products[role] {
		units = append(units, filepath.Join(root, "etc", "systemd", "system", p+".service"))
	}
	out, err := exec.Command(analyze, append([]string{"verify"}, units...)...).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.Command("systemd-sysusers", "--root="+root, "--dry-run").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Creating user 'consul'") {
		t.Errorf("systemd-sysusers --dry-run: %v\n%s", err, out)
	}
}
