package clients

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestClassifyAtTheTransport drives each product's official client against
// a server answering with a given status (or a closed port) and classifies
// the error the client returns, wrapped as callers wrap it.
func TestClassifyAtTheTransport(t *testing.T) {
	isolateEnv(t)
	t.Setenv("VAULT_MAX_RETRIES", "0") // a 5xx is classified, not retried
	calls := map[string]func(addr string) error{
		"nomad": func(addr string) error {
			c, err := Nomad(Config{Nomad: NomadConfig{Address: addr}})
			if err != nil {
				return err
			}
			_, _, err = c.Jobs().List(nil)
			return err
		},
		"consul": func(addr string) error {
			c, err := Consul(Config{Consul: ConsulConfig{Address: addr}})
			if err != nil {
				return err
			}
			_, _, err = c.KV().Keys("hstack/", "", nil)
			return err
		},
		"vault": func(addr string) error {
			c, err := Vault(Config{Vault: VaultConfig{Address: addr, Token: "t0ken-for-the-test"}})
			if err != nil {
				return err
			}
			_, err = c.Logical().Read("kv/data/x")
			return err
		},
	}
	closed := closedAddr(t)
	for product, call := range calls {
		for _, c := range []struct {
			status int // 0: nothing listens
			want   Failure
		}{
			{403, Denied},
			{401, Denied},
			{0, Unavailable},
			{503, Unavailable},
			{502, Unavailable},
			{500, Failed},
			{400, Failed},
		} {
			addr := closed
			if c.status != 0 {
				status := c.status
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					fmt.Fprint(w, `{"errors":["some answer"]}`)
				}))
				addr = srv.URL
				defer srv.Close()
			}
			err := call(addr)
			if err == nil {
				t.Errorf("%s, status %d: no error", product, c.status)
				continue
			}
			wrapped := fmt.Errorf("doing something: %w", err)
			if got := Classify(wrapped); got != c.want {
				t.Errorf("%s, status %d: Classify = %v, want %v (%v)", product, c.status, got, c.want, err)
			}
			if code, ok := StatusCode(wrapped); c.status != 0 && (!ok || code != c.status) {
				t.Errorf("%s, status %d: StatusCode = %d, %v", product, c.status, code, ok)
			}
			if got := Unreachable(wrapped); got != (c.want != Failed) {
				t.Errorf("%s, status %d: Unreachable = %v", product, c.status, got)
			}
		}
	}
	// An allowed call is no failure to classify.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `[]`)
	}))
	defer srv.Close()
	if err := calls["nomad"](srv.URL); err != nil {
		t.Errorf("nomad, status 200: %v", err)
	}
	if Unreachable(nil) {
		t.Error("Unreachable(nil)")
	}
	// Message text alone proves nothing: a plain error quoting a 403 is
	// not a refusal by a service.
	if got := Classify(errors.New("Unexpected response code: 403 (Permission denied)")); got != Failed {
		t.Errorf("a plain error classified as %v", got)
	}
}

func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + l.Addr().String()
	_ = l.Close() // closed on purpose: nothing listens there now
	return addr
}
