package vaultdb

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	vaultapi "github.com/hashicorp/vault/api"
)

// TestCheckMarksDenials: a check Vault refused the token for is marked
// Denied (what that token may do), told apart from a Vault that fails.
func TestCheckMarksDenials(t *testing.T) {
	for _, c := range []struct {
		status int
		denied bool
	}{{403, true}, {500, false}} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			if r.URL.Path == "/v1/sys/mounts" {
				fmt.Fprint(w, `{"data":{"database/":{"type":"database"}}}`)
				return
			}
			w.WriteHeader(c.status)
			fmt.Fprint(w, `{"errors":["no"]}`)
		}))
		cfg := vaultapi.DefaultConfig()
		cfg.Address = srv.URL
		cfg.MaxRetries = 0
		vc, err := vaultapi.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		vc.SetToken("t0ken-for-the-test")
		res := Check(context.Background(), vc, Spec{Mount: "database", Connection: "main"})
		srv.Close()
		last := res[len(res)-1]
		if len(res) != 2 || !res[0].OK || res[0].Denied || last.OK || last.Check != "connection" || last.Denied != c.denied {
			t.Errorf("status %d: %+v", c.status, res)
		}
	}
}
