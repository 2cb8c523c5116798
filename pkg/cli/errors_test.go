package cli

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	consulapi "github.com/hashicorp/consul/api"
	vaultapi "github.com/hashicorp/vault/api"
)

func TestUnreachable(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&url.Error{Op: "Get", URL: "http://127.0.0.1:1", Err: errors.New("connection refused")}, true},
		{fmt.Errorf("plan: %w", &url.Error{Op: "Put", Err: errors.New("x")}), true},
		// Message text is no status: only the clients' typed errors count
		// (clients.TestClassifyAtTheTransport drives the real clients).
		{errors.New("Unexpected response code: 403 (Permission denied)"), false},
		{&vaultapi.ResponseError{StatusCode: 503}, true},
		{&vaultapi.ResponseError{StatusCode: 400}, false},
		{consulapi.StatusError{Code: 401}, true},
		{errors.New("job validation failed"), false},
	} {
		if got := Unreachable(tc.err); got != tc.want {
			t.Errorf("Unreachable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
