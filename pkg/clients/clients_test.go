package clients

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// isolateEnv blanks every variable the three libraries read, so the
// developer's or CI's real cluster settings cannot leak into a test. All
// three libraries treat an empty value as unset.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{
		"NOMAD_ADDR", "NOMAD_TOKEN", "NOMAD_REGION", "NOMAD_NAMESPACE", "NOMAD_HTTP_AUTH",
		"NOMAD_CACERT", "NOMAD_CAPATH", "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY",
		"NOMAD_TLS_SERVER_NAME", "NOMAD_SKIP_VERIFY",
		"CONSUL_HTTP_ADDR", "CONSUL_HTTP_TOKEN", "CONSUL_HTTP_TOKEN_FILE", "CONSUL_HTTP_AUTH",
		"CONSUL_HTTP_SSL", "CONSUL_HTTP_SSL_VERIFY", "CONSUL_CACERT", "CONSUL_CAPATH",
		"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "CONSUL_TLS_SERVER_NAME",
		"CONSUL_NAMESPACE", "CONSUL_PARTITION",
		"VAULT_ADDR", "VAULT_AGENT_ADDR", "VAULT_TOKEN", "VAULT_NAMESPACE", "VAULT_HEADERS",
		"VAULT_CACERT", "VAULT_CACERT_BYTES", "VAULT_CAPATH", "VAULT_CLIENT_CERT",
		"VAULT_CLIENT_KEY", "VAULT_TLS_SERVER_NAME", "VAULT_SKIP_VERIFY",
		"VAULT_HTTP_PROXY", "VAULT_PROXY_ADDR", "VAULT_MAX_RETRIES",
	} {
		t.Setenv(k, "")
	}
	// Keep a real ~/.vault-token out of the Vault tests.
	t.Setenv("HOME", t.TempDir())
}

type request struct {
	path  string
	query string
	hdr   http.Header
}

// recorder is a fake agent that records every request and answers with a
// body each client library can decode for the call the tests make.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newRecorder(t *testing.T, tlsServer bool) *recorder {
	r := &recorder{}
	h := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, request{req.URL.Path, req.URL.RawQuery, req.Header.Clone()})
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if strings.HasPrefix(req.URL.Path, "/v1/secret/") {
			_, _ = io.WriteString(w, `{"data":{"k":"v"}}`)
			return
		}
		_, _ = io.WriteString(w, `"127.0.0.1:4647"`)
	})
	if tlsServer {
		r.Server = httptest.NewTLSServer(h)
	} else {
		r.Server = httptest.NewServer(h)
	}
	t.Cleanup(r.Close)
	return r
}

func (r *recorder) last(t *testing.T) request {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		t.Fatal("no request reached the test server")
	}
	return r.reqs[len(r.reqs)-1]
}

// caFile writes the test server's self-signed certificate as a CA bundle.
func (r *recorder) caFile(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "ca.pem")
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Certificate().Raw})
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// product abstracts "build a client and make one request" so each scenario
// is checked against all three libraries, whose env handling differs.
type product struct {
	name      string
	addrEnv   string
	tokenEnv  string
	header    string
	path      string
	configure func(cfg *Config, addr string, token Secret, tls TLSConfig)
	call      func(cfg Config) error
}

var products = []product{
	{
		name: "nomad", addrEnv: "NOMAD_ADDR", tokenEnv: "NOMAD_TOKEN",
		header: "X-Nomad-Token", path: "/v1/status/leader",
		configure: func(cfg *Config, addr string, tok Secret, tls TLSConfig) {
			cfg.Nomad.Address, cfg.Nomad.Token, cfg.Nomad.TLS = addr, tok, tls
		},
		call: func(cfg Config) error {
			c, err := Nomad(cfg)
			if err != nil {
				return err
			}
			_, err = c.Status().Leader()
			return err
		},
	},
	{
		name: "consul", addrEnv: "CONSUL_HTTP_ADDR", tokenEnv: "CONSUL_HTTP_TOKEN",
		header: "X-Consul-Token", path: "/v1/status/leader",
		configure: func(cfg *Config, addr string, tok Secret, tls TLSConfig) {
			cfg.Consul.Address, cfg.Consul.Token, cfg.Consul.TLS = addr, tok, tls
		},
		call: func(cfg Config) error {
			c, err := Consul(cfg)
			if err != nil {
				return err
			}
			_, err = c.Status().Leader()
			return err
		},
	},
	{
		name: "vault", addrEnv: "VAULT_ADDR", tokenEnv: "VAULT_TOKEN",
		header: "X-Vault-Token", path: "/v1/secret/data/app",
		configure: func(cfg *Config, addr string, tok Secret, tls TLSConfig) {
			cfg.Vault.Address, cfg.Vault.Token, cfg.Vault.TLS = addr, tok, tls
		},
		call: func(cfg Config) error {
			c, err := Vault(cfg)
			if err != nil {
				return err
			}
			_, err = c.Logical().Read("secret/data/app")
			return err
		},
	},
}

func TestClientsUseEnvironment(t *testing.T) {
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			isolateEnv(t)
			srv := newRecorder(t, false)
			t.Setenv(p.addrEnv, srv.URL)
			t.Setenv(p.tokenEnv, "env-token")

			if err := p.call(Config{}); err != nil {
				t.Fatal(err)
			}
			got := srv.last(t)
			if got.path != p.path {
				t.Errorf("path = %q, want %q", got.path, p.path)
			}
			if v := got.hdr.Get(p.header); v != "env-token" {
				t.Errorf("%s = %q, want env-token", p.header, v)
			}
		})
	}
}

func TestClientsOverridesBeatEnvironment(t *testing.T) {
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			isolateEnv(t)
			srv := newRecorder(t, false)
			// Nothing listens on port 1: reaching srv proves the override won.
			t.Setenv(p.addrEnv, "http://127.0.0.1:1")
			t.Setenv(p.tokenEnv, "env-token")

			var cfg Config
			p.configure(&cfg, srv.URL, "flag-token", TLSConfig{})
			if err := p.call(cfg); err != nil {
				t.Fatal(err)
			}
			got := srv.last(t)
			if got.path != p.path {
				t.Errorf("path = %q, want %q", got.path, p.path)
			}
			if v := got.hdr.Get(p.header); v != "flag-token" {
				t.Errorf("%s = %q, want flag-token", p.header, v)
			}
		})
	}
}

func TestClientsCACertOverride(t *testing.T) {
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			isolateEnv(t)
			srv := newRecorder(t, true)

			var cfg Config
			p.configure(&cfg, srv.URL, "tok", TLSConfig{})
			if err := p.call(cfg); err == nil {
				t.Fatal("request to a self-signed server succeeded without its CA")
			}

			p.configure(&cfg, srv.URL, "tok", TLSConfig{CACert: srv.caFile(t)})
			if err := p.call(cfg); err != nil {
				t.Fatalf("with CA override: %v", err)
			}
			if v := srv.last(t).hdr.Get(p.header); v != "tok" {
				t.Errorf("%s = %q, want tok", p.header, v)
			}
		})
	}
}

func TestClientsRejectHalfAClientCertPair(t *testing.T) {
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			isolateEnv(t)
			var cfg Config
			p.configure(&cfg, "http://127.0.0.1:1", "", TLSConfig{ClientCert: "/nonexistent/cert.pem"})
			err := p.call(cfg)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), "client key") {
				t.Fatalf("err = %v, want complaint about the missing client key", err)
			}
			if !strings.HasPrefix(err.Error(), p.name) {
				t.Errorf("err = %q, want it prefixed with the product name", err)
			}
		})
	}
}

// writeKeyPair writes a throwaway self-signed client certificate and key.
func writeKeyPair(t *testing.T) (certPath, keyPath string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "hstack-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

// Overriding one half of the client cert pair must combine with the other
// half from the env. vault/api validates the pair as a unit, so without
// completing it from the env this fails for Vault only.
func TestClientsCompleteCertPairFromEnv(t *testing.T) {
	envNames := map[string][2]string{
		"nomad":  {"NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY"},
		"consul": {"CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY"},
		"vault":  {"VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY"},
	}
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			isolateEnv(t)
			srv := newRecorder(t, false)
			cert, key := writeKeyPair(t)
			t.Setenv(envNames[p.name][0], cert)
			t.Setenv(envNames[p.name][1], key)

			var cfg Config
			p.configure(&cfg, srv.URL, "tok", TLSConfig{ClientKey: key})
			if err := p.call(cfg); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestNomadRegionAndNamespace(t *testing.T) {
	isolateEnv(t)
	srv := newRecorder(t, false)
	t.Setenv("NOMAD_ADDR", srv.URL)
	t.Setenv("NOMAD_REGION", "env-region")

	c, err := Nomad(Config{Nomad: NomadConfig{Region: "eu", Namespace: "apps"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status().Leader(); err != nil {
		t.Fatal(err)
	}
	q := srv.last(t).query
	if !strings.Contains(q, "region=eu") || !strings.Contains(q, "namespace=apps") {
		t.Errorf("query = %q, want region=eu and namespace=apps", q)
	}
}

func TestVaultTokenHelperFile(t *testing.T) {
	isolateEnv(t)
	srv := newRecorder(t, false)
	t.Setenv("VAULT_ADDR", srv.URL)
	home := os.Getenv("HOME")
	if err := os.WriteFile(filepath.Join(home, ".vault-token"), []byte("file-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, env string
		override  Secret
		want      string
	}{
		{"file used when nothing else", "", "", "file-token"},
		{"VAULT_TOKEN beats file", "env-token", "", "env-token"},
		{"override beats both", "env-token", "flag-token", "flag-token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("VAULT_TOKEN", tc.env)
			c, err := Vault(Config{Vault: VaultConfig{Token: tc.override}})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Logical().Read("secret/data/app"); err != nil {
				t.Fatal(err)
			}
			if v := srv.last(t).hdr.Get("X-Vault-Token"); v != tc.want {
				t.Errorf("X-Vault-Token = %q, want %q", v, tc.want)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	const tok = "s3cr3t-value"
	cfg := Config{
		Nomad:  NomadConfig{Token: tok},
		Consul: ConsulConfig{Token: tok},
		Vault:  VaultConfig{Token: tok},
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf strings.Builder
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("cfg", "token", cfg.Nomad.Token)

	for name, s := range map[string]string{
		"%v":  fmt.Sprintf("%v", cfg),
		"%+v": fmt.Sprintf("%+v", cfg),
		"%#v": fmt.Sprintf("%#v", cfg),
		//lint:ignore S1025 the point is how %s formats a Secret
		"%s":   fmt.Sprintf("%s", cfg.Vault.Token),
		"%q":   fmt.Sprintf("%q", cfg.Vault.Token),
		"json": string(js),
		"slog": logBuf.String(),
	} {
		if strings.Contains(s, tok) {
			t.Errorf("%s output leaks the token: %s", name, s)
		}
		if !strings.Contains(s, redacted) {
			t.Errorf("%s output lacks the redaction marker: %s", name, s)
		}
	}
	if cfg.Vault.Token.Reveal() != tok {
		t.Error("Reveal lost the value")
	}
}

func TestServersFromKeepsTheListForAListedOverride(t *testing.T) {
	t.Setenv(EnvNomadAddrs, "http://127.0.0.11:4646,http://127.0.0.12:4646")
	for override, want := range map[string]int{"": 2, "http://127.0.0.11:4646": 2, "127.0.0.12:4646": 2, "http://10.0.0.1:4646": 0} {
		us, err := serversFrom(EnvNomadAddrs, override)
		if err != nil || len(us) != want {
			t.Errorf("override %q: %d servers, %v; want %d", override, len(us), err, want)
		}
	}
}
