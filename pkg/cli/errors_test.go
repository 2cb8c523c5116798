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
		{errors.New("Unexpected response code: 403 (Permission denied)"), true},
		{errors.New("Unexpected response code: 404 (job not found)"), false},
		{errors.New("Unexpected response code: 500 (rpc error)"), false},
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
