package clients

import (
	"errors"
	"net"
	"net/url"

	consulapi "github.com/hashicorp/consul/api"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"
)

// Failure is what went wrong with a call to Nomad, Consul or Vault, told
// from the official clients' typed errors (never from message text, which
// changes between releases and with the wrapping around it).
type Failure int

const (
	// Failed: the service answered and refused the request for a reason
	// of its own (a 4xx other than 401/403, a 500), or err is not an API
	// error at all.
	Failed Failure = iota
	// Denied: the service refused the credentials (401, 403): no token,
	// an unknown one, or one whose policy lacks the capability.
	Denied
	// Unavailable: the service could not be reached (a transport error)
	// or could not serve (502, 503, 504; Vault answers 503 while sealed).
	Unavailable
)

// Classify says which Failure err is; a nil err is Failed too, so callers
// check err first.
func Classify(err error) Failure {
	if err == nil {
		return Failed
	}
	if code, ok := StatusCode(err); ok {
		switch code {
		case 401, 403:
			return Denied
		case 502, 503, 504:
			return Unavailable
		}
		return Failed
	}
	var (
		ue *url.Error
		ne net.Error
	)
	if errors.As(err, &ue) || errors.As(err, &ne) {
		return Unavailable
	}
	return Failed
}

// StatusCode is the HTTP status of the answer err reports, from the
// error types of nomad/api, consul/api and vault/api.
func StatusCode(err error) (int, bool) {
	var (
		nr  nomadapi.UnexpectedResponseError
		nrp *nomadapi.UnexpectedResponseError
		vr  *vaultapi.ResponseError
		cr  consulapi.StatusError
	)
	switch {
	case errors.As(err, &nr) && nr.HasStatusCode():
		return nr.StatusCode(), true
	case errors.As(err, &nrp) && nrp.HasStatusCode():
		return nrp.StatusCode(), true
	case errors.As(err, &vr):
		return vr.StatusCode, true
	case errors.As(err, &cr):
		return cr.Code, true
	}
	return 0, false
}

// Unreachable reports whether err means a cluster service could not be
// reached or refused the credentials: what exit code 3 stands for.
func Unreachable(err error) bool {
	f := Classify(err)
	return err != nil && (f == Denied || f == Unavailable)
}
