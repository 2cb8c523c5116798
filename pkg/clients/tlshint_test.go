package clients

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The three TLS mistakes, against each library, through the environment
// variables the products' CLIs read: each error names the variable to set.
func TestExplainTLSFailures(t *testing.T) {
	caVar := map[string]string{"nomad": "NOMAD_CACERT", "consul": "CONSUL_CACERT", "vault": "VAULT_CACERT"}
	certVar := map[string]string{"nomad": "NOMAD_CLIENT_CERT", "consul": "CONSUL_CLIENT_CERT", "vault": "VAULT_CLIENT_CERT"}
	for _, p := range products {
		t.Run(p.name, func(t *testing.T) {
			isolateEnv(t)
			built.Clear() // as in a fresh hstack process
			srv := newRecorder(t, true)
			addr := strings.TrimPrefix(srv.URL, "https://")

			// Plaintext to the TLS port.
			t.Setenv(p.addrEnv, "http://"+addr)
			err := Explain(p.call(Config{}))
			var te *TLSError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), p.addrEnv+" to https://"+addr) {
				t.Errorf("plaintext to TLS: %v", err)
			}

			// TLS without the CA.
			t.Setenv(p.addrEnv, srv.URL)
			err = Explain(p.call(Config{}))
			if !errors.As(err, &te) || !strings.Contains(err.Error(), "set "+caVar[p.name]) {
				t.Errorf("unknown CA: %v", err)
			}

			// With the CA in the standard variable it works.
			t.Setenv(caVar[p.name], srv.caFile(t))
			if err := p.call(Config{}); err != nil {
				t.Errorf("with %s: %v", caVar[p.name], err)
			}
		})
	}
	for _, p := range products {
		t.Run(p.name+" client certificate", func(t *testing.T) {
			isolateEnv(t)
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`"127.0.0.1:4647"`))
			}))
			srv.TLS = &tls.Config{ClientAuth: tls.RequireAnyClientCert}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			r := &recorder{Server: srv}
			t.Setenv(p.addrEnv, srv.URL)
			t.Setenv(caVar[p.name], r.caFile(t))
			err := Explain(p.call(Config{}))
			var te *TLSError
			if !errors.As(err, &te) || !strings.Contains(err.Error(), "set "+certVar[p.name]) {
				t.Errorf("no client certificate: %v", err)
			}
		})
	}
}

// TestExplainDroppedHTTP2: Consul negotiates HTTP/2, so a connection it
// drops for a missing client certificate reads differently (seen in
// TestSecureReleasePath).
func TestExplainDroppedHTTP2(t *testing.T) {
	isolateEnv(t)
	t.Setenv("CONSUL_HTTP_ADDR", "https://127.0.0.1:8501")
	err := Explain(errors.New(`Get "https://127.0.0.1:8501/v1/agent/services": http2: client conn could not be established`))
	if !strings.Contains(err.Error(), "set CONSUL_CLIENT_CERT and CONSUL_CLIENT_KEY") {
		t.Errorf("dropped HTTP/2 connection: %v", err)
	}
}

func TestExplainLeavesOtherErrors(t *testing.T) {
	e := errors.New("Unexpected response code: 403 (Permission denied)")
	if Explain(e) != e {
		t.Error("a non-TLS error was rewritten")
	}
}
