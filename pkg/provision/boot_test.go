package provision

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/hstack-dev/hstack/pkg/testenv"
)

// fakeSecrets is Secrets Manager's GetSecretValue (the JSON protocol) in
// front of fakeAWS's IMDSv2: it records how it was called.
type fakeSecrets struct {
	imds    *fakeAWS
	mu      sync.Mutex
	values  map[string]string // secret name -> SecretString
	late    map[string]string // uploaded only after the first ask
	asked   []string
	badCall []string // requests that were not a well-formed, signed GetSecretValue
	auth    []string
}

func (f *fakeSecrets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/secretsmanager/" {
		f.imds.ServeHTTP(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var in struct{ SecretId string }
	if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "secretsmanager.GetSecretValue" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || json.NewDecoder(r.Body).Decode(&in) != nil ||
		r.Header.Get("X-Amz-Security-Token") != fakeToken {
		f.badCall = append(f.badCall, fmt.Sprintf("%s %s %v", r.Method, r.URL, r.Header))
		http.Error(w, `{"__type":"InvalidRequestException"}`, http.StatusBadRequest)
		return
	}
	f.asked = append(f.asked, in.SecretId)
	f.auth = append(f.auth, r.Header.Get("Authorization"))
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	v, ok := f.values[in.SecretId]
	if late, was := f.late[in.SecretId]; !ok && was {
		f.values[in.SecretId] = late
	}
	if !ok {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}`))
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{
		"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:" + in.SecretId + "-AbCdEf", "Name": in.SecretId,
		"SecretString": v, "VersionId": "v1", "VersionStages": []string{"AWSCURRENT"}, "CreatedDate": 1.7e9,
	})
}

// bootCase is one instance: its role's image baked (as Packer does, no
// secrets) into a temporary root, the secrets it reads, its cluster.json.
type bootCase struct {
	root, cluster, systemctlCalls string
	secrets                       *fakeSecrets
	srv                           *httptest.Server
	tls                           string
	gossip, nomadGossip           string
	wait                          string // HSTACK_BOOT_WAIT_SECONDS
}

// requireJQ: boot.sh and termination-watch.sh read cluster.json with jq.
func requireJQ(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("jq"); err != nil {
		testenv.Missing(t, "jq is not installed (Debian package jq, which make deps installs; the images install it)")
	}
}

func newBootCase(t *testing.T, e *env, role string) *bootCase {
	t.Helper()
	requireJQ(t)
	b := &bootCase{root: t.TempDir(), wait: "0"}
	// As on a host: /run exists (a tmpfs), where boot.sh stages the secrets.
	if err := os.MkdirAll(filepath.Join(b.root, "run"), 0o755); err != nil { // #nosec G301 -- as on a host
		t.Fatal(err)
	}
	if code, out := run(t, role, "--source", e.mirror, "--root", b.root, "--phase", "all", "--mode", "prod", "--join", "aws", "--skip-packages"); code != 0 {
		t.Fatalf("baking the %s image: exit %d\n%s", role, code, out)
	}
	b.tls = e.tlsDir(t, role == "server")
	read := func(f string) string {
		x, err := os.ReadFile(f) // #nosec G304 -- the test's own files
		if err != nil {
			t.Fatal(err)
		}
		return string(x)
	}
	pair := func(p string) string {
		return read(filepath.Join(b.tls, p+".pem")) + read(filepath.Join(b.tls, p+"-key.pem"))
	}
	b.gossip = strings.TrimSpace(read(e.gossipKey(t)))
	b.nomadGossip = strings.TrimSpace(read(e.gossipKey(t)))
	env := "hstack-prod/boot/"
	b.secrets = &fakeSecrets{imds: &fakeAWS{}, values: map[string]string{
		env + "ca": read(filepath.Join(b.tls, "ca.pem")), env + "consul-gossip": b.gossip + "\n", env + "nomad-gossip": b.nomadGossip,
		env + role + "-consul": pair("consul"), env + role + "-nomad": pair("nomad"), env + role + "-vault": pair("vault"),
	}}
	b.srv = httptest.NewServer(b.secrets)
	t.Cleanup(b.srv.Close)

	cfg := map[string]any{"role": role, "cluster_tag": map[string]string{"hstack-cluster": "hstack-prod"}, "aws_region": "eu-west-1",
		"secret_ca": env + "ca", "secret_consul_gossip": env + "consul-gossip", "secret_consul_tls": env + role + "-consul"}
	switch role {
	case "server":
		cfg["bootstrap_expect"] = 3
		cfg["secret_nomad_gossip"], cfg["secret_nomad_tls"] = env+"nomad-gossip", env+"server-nomad"
	case "client":
		cfg["secret_nomad_tls"] = env + "client-nomad"
	case "vault":
		cfg["secret_vault_tls"] = env + "vault-vault"
		cfg["awskms_key_id"] = "11111111-2222-3333-4444-555555555555"
	}
	js, _ := json.Marshal(cfg) // compact, one line, as jsonencode writes it
	b.cluster = filepath.Join(t.TempDir(), "cluster.json")
	if err := os.WriteFile(b.cluster, js, 0o600); err != nil {
		t.Fatal(err)
	}
	b.systemctlCalls = filepath.Join(t.TempDir(), "systemctl.calls")
	return b
}

// boot runs the boot.sh the image carries (copy_self installed it) with the
// real curl and jq, and a systemctl stub that records any call.
func (b *bootCase) boot(t *testing.T) (string, error) {
	t.Helper()
	bin := t.TempDir()
	stub := "#!/bin/sh\necho \"$@\" >> " + b.systemctlCalls + "\n"
	if err := os.WriteFile(filepath.Join(bin, "systemctl"), []byte(stub), 0o755); err != nil { // #nosec G306 -- a test stub that must be executable
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(b.root, "opt", "hstack", "provision", "boot.sh"), "--root", b.root)
	cmd.Env = append(os.Environ(), "PATH="+bin+":"+os.Getenv("PATH"), "HSTACK_IMDS_URL="+b.srv.URL,
		"HSTACK_SECRETSMANAGER_ENDPOINT="+b.srv.URL+"/secretsmanager/", "HSTACK_CLUSTER_JSON="+b.cluster,
		"HSTACK_BOOT_WAIT_SECONDS="+b.wait, "HSTACK_BOOT_RETRY_SECONDS=0.2")
	out, err := cmd.CombinedOutput()
	for _, s := range b.secretValues(t) {
		if strings.Contains(string(out), s) {
			t.Errorf("a secret appears in boot.sh's output:\n%s", out)
		}
	}
	if x, _ := os.ReadFile(b.systemctlCalls); len(x) > 0 { // #nosec G304 -- the test's own file
		t.Errorf("systemctl called with a non-/ root: %s", x)
	}
	return string(out), err
}

// secretValues: what must never be printed: the private keys, the gossip
// keys and the instance role's credentials.
func (b *bootCase) secretValues(t *testing.T) []string {
	vals := []string{b.gossip, b.nomadGossip, fakeSecret, fakeToken}
	keys, _ := filepath.Glob(filepath.Join(b.tls, "*-key.pem"))
	for _, k := range keys {
		x, err := os.ReadFile(k) // #nosec G304 -- the test's own files
		if err != nil {
			t.Fatal(err)
		}
		// A line from the middle of the key's base64.
		lines := strings.Split(strings.TrimSpace(string(x)), "\n")
		vals = append(vals, lines[len(lines)/2])
	}
	return vals
}

// TestBootFetchesSecretsAndConfigures: an instance's first boot, for each
// role: boot.sh reads cluster.json, fetches exactly its role's secrets from
// Secrets Manager with SigV4 (the instance role's IMDSv2 credentials, for
// secretsmanager in the region), installs them and renders the production
// configs, which the real Consul and Nomad accept and which point at the
// installed certificates; the gossip key files hold the fetched keys; the
// staged copies are gone; no secret is printed.
func TestBootFetchesSecretsAndConfigures(t *testing.T) {
	e := newEnv(t)
	for _, role := range []string{"server", "client", "vault"} {
		t.Run(role, func(t *testing.T) {
			b := newBootCase(t, e, role)
			out, err := b.boot(t)
			if err != nil {
				t.Fatalf("boot.sh: %v\n%s", err, out)
			}
			t.Logf("boot.sh:\n%s", out)
			want := map[string]int{"server": 5, "client": 4, "vault": 4}[role]
			if len(b.secrets.asked) != want || len(b.secrets.badCall) > 0 {
				t.Errorf("asked for %v (want %d secrets), malformed calls %v", b.secrets.asked, want, b.secrets.badCall)
			}
			for _, a := range b.secrets.auth {
				if !strings.HasPrefix(a, "AWS4-HMAC-SHA256 Credential="+fakeKeyID+"/") || !strings.Contains(a, "/eu-west-1/secretsmanager/aws4_request") {
					t.Errorf("Authorization %q: want SigV4 for secretsmanager in eu-west-1 with the instance role's key", a)
				}
			}
			if role == "client" && strings.Contains(strings.Join(b.secrets.asked, " "), "nomad-gossip") {
				t.Errorf("a client asked for the servers' Nomad gossip key: %v", b.secrets.asked)
			}
			products := map[string][]string{"server": {"consul", "nomad"}, "client": {"consul", "nomad"}, "vault": {"consul", "vault"}}[role]
			for _, p := range products {
				for _, f := range []string{"ca.pem", p + ".pem", p + "-key.pem"} {
					sameFile(t, filepath.Join(b.root, "etc", p+".d", "tls", f), filepath.Join(b.tls, f))
				}
				if fi, err := os.Stat(filepath.Join(b.root, "etc", p+".d", "tls", p+"-key.pem")); err != nil || fi.Mode().Perm() != 0o640 {
					t.Errorf("%s key: %v %v, want mode 0640", p, fi, err)
				}
				hcl := filepath.Join(b.root, "etc", p+".d", p+".hcl")
				x, err := os.ReadFile(hcl) // #nosec G304 -- the test's own root
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(string(x), `key_file`) || !strings.Contains(string(x), b.root+"/etc/"+p+".d/tls/"+p+"-key.pem") {
					t.Errorf("%s.hcl does not use the installed key:\n%s", p, x)
				}
			}
			consulKey, _ := os.ReadFile(filepath.Join(b.root, "etc", "consul.d", "encrypt.hcl")) // #nosec G304 -- the test's own root
			if !strings.Contains(string(consulKey), `encrypt = "`+b.gossip+`"`) {
				t.Errorf("consul encrypt.hcl does not hold the fetched gossip key")
			}
			consul, _ := os.ReadFile(filepath.Join(b.root, "etc", "consul.d", "consul.hcl")) // #nosec G304 -- the test's own root
			if !strings.Contains(string(consul), `tag_key=hstack-cluster tag_value=hstack-prod`) {
				t.Errorf("consul.hcl does not join by cluster.json's tag:\n%s", consul)
			}
			must(t, "", e.bins["consul"], "validate", ConfigDir(b.root, "consul"))
			switch role {
			case "server":
				nomadKey, _ := os.ReadFile(filepath.Join(b.root, "etc", "nomad.d", "encrypt.hcl")) // #nosec G304 -- the test's own root
				if !strings.Contains(string(nomadKey), `encrypt = "`+b.nomadGossip+`"`) {
					t.Errorf("nomad encrypt.hcl does not hold the fetched Nomad gossip key")
				}
				if !strings.Contains(string(consul), "bootstrap_expect = 3") {
					t.Errorf("consul.hcl lacks cluster.json's bootstrap_expect")
				}
				must(t, "", e.bins["nomad"], "config", "validate", ConfigDir(b.root, "nomad"))
			case "client":
				must(t, "", e.bins["nomad"], "config", "validate", ConfigDir(b.root, "nomad"))
			case "vault":
				v, _ := os.ReadFile(filepath.Join(b.root, "etc", "vault.d", "vault.hcl")) // #nosec G304 -- the test's own root
				if !strings.Contains(string(v), `kms_key_id = "11111111-2222-3333-4444-555555555555"`) || !strings.Contains(string(v), `region     = "eu-west-1"`) {
					t.Errorf("vault.hcl lacks cluster.json's KMS key and region:\n%s", v)
				}
			}
			if left, _ := filepath.Glob(filepath.Join(b.root, "run", "hstack-boot.*")); len(left) > 0 {
				t.Errorf("boot.sh left its staged secrets: %v", left)
			}
		})
	}
}

// TestBootFailsOnAMissingSecret: a secret not uploaded yet fails the boot
// with its name, before anything is configured (the agents stay disabled).
func TestBootFailsOnAMissingSecret(t *testing.T) {
	e := newEnv(t)
	b := newBootCase(t, e, "server")
	delete(b.secrets.values, "hstack-prod/boot/server-nomad")
	before := snapshot(t, b.root)
	out, err := b.boot(t)
	if err == nil {
		t.Fatalf("boot.sh succeeded without the Nomad server certificate:\n%s", out)
	}
	if !strings.Contains(out, "secret hstack-prod/boot/server-nomad (nomad_tls)") || !strings.Contains(out, "ResourceNotFoundException") || !strings.Contains(out, "agents stay disabled") {
		t.Errorf("the failure does not name the missing secret:\n%s", out)
	}
	if after := snapshot(t, b.root); after != before {
		t.Errorf("boot.sh changed the image's files although it failed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// snapshot lists every file under root with its size and mode.
func snapshot(t *testing.T, root string) string {
	t.Helper()
	var s strings.Builder
	err := filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		fmt.Fprintf(&s, "%s %d %v\n", strings.TrimPrefix(p, root), fi.Size(), fi.Mode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s.String()
}

// TestBootWaitsForASecretUploadedLate: the shells and the instances come
// from one apply, so an instance may boot before the operator uploads a
// value; boot.sh asks again until it is there.
func TestBootWaitsForASecretUploadedLate(t *testing.T) {
	e := newEnv(t)
	b := newBootCase(t, e, "client")
	b.wait = "300"
	b.secrets.late = map[string]string{"hstack-prod/boot/client-nomad": b.secrets.values["hstack-prod/boot/client-nomad"]}
	delete(b.secrets.values, "hstack-prod/boot/client-nomad")
	out, err := b.boot(t)
	if err != nil {
		t.Fatalf("boot.sh: %v\n%s", err, out)
	}
	if !strings.Contains(out, "secret hstack-prod/boot/client-nomad (nomad_tls): Secrets Manager answered HTTP 400 ResourceNotFoundException") || !strings.Contains(out, "retrying") {
		t.Errorf("boot.sh did not say what it waited for:\n%s", out)
	}
	sameFile(t, filepath.Join(b.root, "etc", "nomad.d", "tls", "nomad.pem"), filepath.Join(b.tls, "nomad.pem"))
}
