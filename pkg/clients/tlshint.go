package clients

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
)

// built records the address each product's client was last built for in
// this process: Nomad's and Consul's "HTTP request to an HTTPS server"
// errors do not say which server answered.
var built sync.Map // product name -> address

func record(name, addr string) { built.Store(name, addr) }

// tlsProduct names the environment a product's CLI (and hstack) reads.
type tlsProduct struct {
	name, addrVar, caVar, certVar, keyVar, defaultPort string
}

var tlsProducts = []tlsProduct{
	{"Nomad", "NOMAD_ADDR", "NOMAD_CACERT", "NOMAD_CLIENT_CERT", "NOMAD_CLIENT_KEY", "4646"},
	{"Consul", "CONSUL_HTTP_ADDR", "CONSUL_CACERT", "CONSUL_CLIENT_CERT", "CONSUL_CLIENT_KEY", "8500"},
	{"Vault", "VAULT_ADDR", "VAULT_CACERT", "VAULT_CLIENT_CERT", "VAULT_CLIENT_KEY", "8200"},
}

// TLSError is a connection failure that comes down to TLS settings, with
// what to set to fix it.
type TLSError struct {
	Product string
	Hint    string
	Err     error
}

func (e *TLSError) Error() string { return e.Err.Error() + ": " + e.Hint }
func (e *TLSError) Unwrap() error { return e.Err }

// Explain recognises the three ways a wrongly configured client fails
// against a TLS-protected Nomad, Consul or Vault — plaintext to a TLS
// port, a server certificate from an unknown CA, and no client
// certificate where the server verifies them — and returns err wrapped in
// a TLSError naming the variable to set. Anything else comes back as is.
// The libraries report these as bare HTTP or x509 errors that name
// neither the product nor the setting.
func Explain(err error) error {
	if err == nil {
		return nil
	}
	var te *TLSError
	if errors.As(err, &te) {
		return err
	}
	msg := err.Error()
	p, addr := whichProduct(msg)
	switch {
	case strings.Contains(msg, "HTTP request to an HTTPS server"):
		if addr == "" {
			p, addr = plaintextProduct(p)
		}
		return &TLSError{Product: p.name, Err: err, Hint: fmt.Sprintf(
			"%s at %s serves HTTPS, not plain HTTP: set %s to https://%s and %s to the CA certificate", p.name, addr, p.addrVar, addr, p.caVar)}
	case strings.Contains(msg, "certificate signed by unknown authority"),
		strings.Contains(msg, "failed to verify certificate"):
		return &TLSError{Product: p.name, Err: err, Hint: fmt.Sprintf(
			"%s's certificate is not signed by a CA this client trusts: set %s to the CA certificate (PEM) that signed it", p.name, p.caVar)}
	case strings.Contains(msg, "certificate required"),
		strings.Contains(msg, "bad certificate"):
		return &TLSError{Product: p.name, Err: err, Hint: fmt.Sprintf(
			"%s requires a client certificate (verify_incoming): set %s and %s", p.name, p.certVar, p.keyVar)}
	case strings.Contains(msg, "https://") &&
		(strings.Contains(msg, "connection reset by peer") || strings.Contains(msg, "broken pipe") ||
			strings.Contains(msg, "http2: client conn could not be established")):
		// With TLS 1.3 the client's handshake ends before the server has
		// checked its certificate, so a refused one often shows up only as
		// the server dropping the connection: on the first write, or, when
		// ALPN chose HTTP/2 (Consul), before its settings frame.
		return &TLSError{Product: p.name, Err: err, Hint: fmt.Sprintf(
			"%s dropped the TLS connection, as it does when it requires a client certificate (verify_incoming): set %s and %s", p.name, p.certVar, p.keyVar)}
	}
	return err
}

// plaintextProduct is the one product whose client was built with a
// plain http address, when the error itself does not say.
func plaintextProduct(fallback tlsProduct) (tlsProduct, string) {
	var found []tlsProduct
	var addr string
	for _, p := range tlsProducts {
		v, ok := built.Load(p.name)
		if !ok {
			continue
		}
		if u, err := url.Parse(v.(string)); err == nil && u.Scheme == "http" {
			found = append(found, p)
			addr = u.Host
		}
	}
	if len(found) == 1 {
		return found[0], addr
	}
	return fallback, "<host:port>"
}

// whichProduct finds the product whose address the error mentions: the
// libraries' errors quote the request URL. It compares with each product's
// address variable, then with the standard ports.
func whichProduct(msg string) (tlsProduct, string) {
	host := ""
	for _, f := range strings.Fields(msg) {
		f = strings.Trim(f, `"':,()`)
		if u, err := url.Parse(f); err == nil && u.Host != "" && (u.Scheme == "http" || u.Scheme == "https") {
			host = u.Host
			break
		}
	}
	for _, p := range tlsProducts {
		v := os.Getenv(p.addrVar)
		if v == "" || host == "" {
			continue
		}
		if u, err := url.Parse(v); err == nil && u.Host == host || strings.TrimPrefix(v, "http://") == host {
			return p, host
		}
	}
	for _, p := range tlsProducts {
		if strings.HasSuffix(host, ":"+p.defaultPort) {
			return p, host
		}
	}
	// Unknown: name all three variables.
	return tlsProduct{
		name: "the server", addrVar: "NOMAD_ADDR/CONSUL_HTTP_ADDR/VAULT_ADDR", caVar: "NOMAD_CACERT/CONSUL_CACERT/VAULT_CACERT",
		certVar: "NOMAD_CLIENT_CERT/CONSUL_CLIENT_CERT/VAULT_CLIENT_CERT", keyVar: "NOMAD_CLIENT_KEY/CONSUL_CLIENT_KEY/VAULT_CLIENT_KEY",
	}, host
}
