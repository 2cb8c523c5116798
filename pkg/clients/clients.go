// Package clients builds the official Nomad, Consul and Vault API clients.
//
// Each client starts from its library's DefaultConfig, so every environment
// variable the product's own CLI honours (NOMAD_ADDR, CONSUL_HTTP_ADDR,
// VAULT_ADDR, ...) keeps working with the same precedence rules. Fields of
// Config are overrides applied on top of that: an empty value means "keep
// what the library found", never "clear it".
package clients

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	consulapi "github.com/hashicorp/consul/api"
	"github.com/hashicorp/go-cleanhttp"
	nomadapi "github.com/hashicorp/nomad/api"
	vaultapi "github.com/hashicorp/vault/api"

	"github.com/hstack-dev/hstack/pkg/failover"
	"github.com/hstack-dev/hstack/pkg/reqcount"
)

// Several servers, where one address is all a product's client takes:
// HSTACK_NOMAD_ADDRS, HSTACK_CONSUL_ADDRS and HSTACK_VAULT_ADDRS list
// them (comma-separated base URLs), and each request goes to one that
// answers (pkg/failover). `hstack dev up --cluster` writes them into
// dev.env; the first is also the client's address.
const (
	EnvNomadAddrs  = "HSTACK_NOMAD_ADDRS"
	EnvConsulAddrs = "HSTACK_CONSUL_ADDRS"
	EnvVaultAddrs  = "HSTACK_VAULT_ADDRS"
)

// serversFrom reads env's server list; nil when unset. An address
// override that is not one of the listed servers wins over the list (it
// names another server on purpose); one that is (NOMAD_ADDR, which a flag
// reads too, is the first) leaves the list in use.
func serversFrom(env, override string) ([]*url.URL, error) {
	v := os.Getenv(env)
	if v == "" {
		return nil, nil
	}
	us, err := failover.Parse(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", env, err)
	}
	if override == "" {
		return us, nil
	}
	for _, u := range us {
		if strings.TrimRight(override, "/") == u.String() || override == u.Host {
			return us, nil
		}
	}
	return nil, nil
}

// Secret holds a credential such as an ACL token. Its printing and
// marshalling methods redact the value, so logging or dumping a Config
// (%v, %+v, %#v, JSON, slog) cannot leak it; Reveal is the only way out.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value, for handing to an API client.
func (s Secret) Reveal() string { return string(s) }

// String redacts a non-empty secret; an empty one prints as empty so that
// "was a token given?" stays visible in diagnostics.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString redacts for %#v.
func (s Secret) GoString() string { return fmt.Sprintf("%q", s.String()) }

// MarshalText redacts for encoding/json and other text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue redacts for log/slog.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// TLSConfig holds file-based TLS overrides shared by the three products.
type TLSConfig struct {
	CACert     string
	CAPath     string
	ClientCert string
	ClientKey  string
	ServerName string
	// SkipVerify can only turn verification off. A plain bool cannot
	// express "unset", and false must not undo NOMAD_SKIP_VERIFY & co.
	SkipVerify bool
}

func (t TLSConfig) isZero() bool { return t == TLSConfig{} }

// NomadConfig overrides the Nomad client settings.
type NomadConfig struct {
	Address string
	// Single talks to Address alone, even with HSTACK_NOMAD_ADDRS set (a
	// probe of one server).
	Single    bool
	Token     Secret
	Region    string
	Namespace string
	TLS       TLSConfig
}

// ConsulConfig overrides the Consul client settings.
type ConsulConfig struct {
	Address string
	// Single talks to Address alone, even with HSTACK_CONSUL_ADDRS set
	// (one agent's own settings, such as its token).
	Single bool
	Token  Secret
	TLS    TLSConfig
}

// VaultConfig overrides the Vault client settings.
type VaultConfig struct {
	Address   string
	Token     Secret
	Namespace string
	TLS       TLSConfig
}

// Config is the per-product set of overrides.
type Config struct {
	Nomad  NomadConfig
	Consul ConsulConfig
	Vault  VaultConfig
}

// Nomad returns a Nomad API client for cfg.Nomad.
func Nomad(cfg Config) (*nomadapi.Client, error) {
	o := cfg.Nomad
	nc := nomadapi.DefaultConfig()
	servers, err := serversFrom(EnvNomadAddrs, o.Address)
	if err != nil {
		return nil, fmt.Errorf("nomad client: %w", err)
	}
	if o.Single {
		servers = nil
	}
	if servers != nil {
		nc.Address = servers[0].String()
	}
	set(&nc.Address, o.Address)
	set(&nc.SecretID, o.Token.Reveal())
	set(&nc.Region, o.Region)
	set(&nc.Namespace, o.Namespace)

	nomadTLS(nc.TLSConfig, o.TLS)
	if !strings.HasPrefix(nc.Address, "unix:") {
		hc, err := nomadHTTP(nc.TLSConfig)
		if err != nil {
			return nil, err
		}
		if servers != nil {
			failover.Wrap(hc, servers).Transport.(*failover.Transport).WritesIdempotent = true
		}
		nc.HttpClient = reqcount.Wrap(hc)
	}
	c, err := nomadapi.NewClient(nc)
	if err != nil {
		return nil, fmt.Errorf("nomad client: %w", err)
	}
	record("Nomad", nc.Address)
	return c, nil
}

func nomadTLS(t *nomadapi.TLSConfig, o TLSConfig) {
	set(&t.CACert, o.CACert)
	set(&t.CAPath, o.CAPath)
	set(&t.ClientCert, o.ClientCert)
	set(&t.ClientKey, o.ClientKey)
	set(&t.TLSServerName, o.ServerName)
	t.Insecure = t.Insecure || o.SkipVerify
}

// nomadHTTP is what nomadapi.NewClient would build for t.
func nomadHTTP(t *nomadapi.TLSConfig) (*http.Client, error) {
	hc := cleanhttp.DefaultPooledClient()
	tr := hc.Transport.(*http.Transport)
	tr.TLSHandshakeTimeout = 10 * time.Second
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	tr.ForceAttemptHTTP2 = false
	if err := nomadapi.ConfigureTLS(hc, t); err != nil {
		return nil, fmt.Errorf("nomad client: %w", err)
	}
	return hc, nil
}

// NomadHTTP is a plain HTTP client with Nomad's TLS settings (CA, client
// certificate), for what Nomad serves outside its API client: the
// workload identity JWKS that Vault and Consul verify tokens with.
func NomadHTTP(cfg Config, timeout time.Duration) (*http.Client, error) {
	t := nomadapi.DefaultConfig().TLSConfig
	nomadTLS(t, cfg.Nomad.TLS)
	hc, err := nomadHTTP(t)
	if err != nil {
		return nil, err
	}
	hc.Timeout = timeout
	return hc, nil
}

// Consul returns a Consul API client for cfg.Consul. CONSUL_HTTP_TOKEN_FILE
// still beats a token that merely repeats CONSUL_HTTP_TOKEN, as in the
// consul CLI; a different explicit token beats both.
func Consul(cfg Config) (*consulapi.Client, error) {
	o := cfg.Consul
	cc := consulapi.DefaultConfig()
	servers, err := serversFrom(EnvConsulAddrs, o.Address)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	if o.Single {
		servers = nil
	}
	if servers != nil {
		cc.Scheme, cc.Address = servers[0].Scheme, servers[0].Host
	}
	set(&cc.Address, o.Address)
	set(&cc.Token, o.Token.Reveal())

	t := &cc.TLSConfig
	set(&t.CAFile, o.TLS.CACert)
	set(&t.CAPath, o.TLS.CAPath)
	set(&t.CertFile, o.TLS.ClientCert)
	set(&t.KeyFile, o.TLS.ClientKey)
	set(&t.Address, o.TLS.ServerName)
	t.InsecureSkipVerify = t.InsecureSkipVerify || o.TLS.SkipVerify

	if servers != nil {
		hc, err := consulapi.NewHttpClient(cc.Transport, cc.TLSConfig)
		if err != nil {
			return nil, fmt.Errorf("consul client: %w", err)
		}
		cc.HttpClient = failover.Wrap(hc, servers)
	}
	c, err := consulapi.NewClient(cc)
	if err != nil {
		return nil, fmt.Errorf("consul client: %w", err)
	}
	record("Consul", consulURL(cc))
	return c, nil
}

// Vault returns a Vault API client for cfg.Vault.
//
// The vault/api library differs from the other two: DefaultConfig reads
// VAULT_ADDR and the TLS variables, but VAULT_TOKEN and VAULT_NAMESPACE are
// only read by NewClient, so those overrides go onto the client afterwards.
// The library also never consults the vault CLI's token helper; when no
// token was found we read ~/.vault-token ourselves (what the default
// internal helper does) so a prior `vault login` just works. External
// token_helper programs configured in ~/.vault are not supported.
// VAULT_AGENT_ADDR, when set, still takes precedence over the address, as in
// the vault CLI.
func Vault(cfg Config) (*vaultapi.Client, error) {
	o := cfg.Vault
	vc := vaultapi.DefaultConfig()
	if vc.Error != nil {
		return nil, fmt.Errorf("vault client: %w", vc.Error)
	}
	servers, err := serversFrom(EnvVaultAddrs, o.Address)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	if servers != nil {
		vc.Address = servers[0].String()
	}
	set(&vc.Address, o.Address)

	if !o.TLS.isZero() {
		// ConfigureTLS layers onto the TLS settings ReadEnvironment already
		// applied, so only overrides are passed, except that the cert/key
		// pair is validated as a unit and must be completed from the env.
		t := &vaultapi.TLSConfig{
			CACert:        o.TLS.CACert,
			CAPath:        o.TLS.CAPath,
			TLSServerName: o.TLS.ServerName,
			Insecure:      o.TLS.SkipVerify,
		}
		if o.TLS.ClientCert != "" || o.TLS.ClientKey != "" {
			t.ClientCert = firstNonEmpty(o.TLS.ClientCert, os.Getenv(vaultapi.EnvVaultClientCert))
			t.ClientKey = firstNonEmpty(o.TLS.ClientKey, os.Getenv(vaultapi.EnvVaultClientKey))
		}
		if err := vc.ConfigureTLS(t); err != nil {
			return nil, fmt.Errorf("vault client: %w", err)
		}
	}

	if servers != nil {
		failover.Wrap(vc.HttpClient, servers)
	}
	c, err := vaultapi.NewClient(vc)
	if err != nil {
		return nil, fmt.Errorf("vault client: %w", err)
	}
	record("Vault", c.Address())
	if o.Token != "" {
		c.SetToken(o.Token.Reveal())
	} else if c.Token() == "" {
		tok, err := vaultTokenFromHelperFile()
		if err != nil {
			return nil, fmt.Errorf("vault client: %w", err)
		}
		if tok != "" {
			c.SetToken(tok)
		}
	}
	if o.Namespace != "" {
		c.SetNamespace(o.Namespace)
	}
	return c, nil
}

// vaultTokenFromHelperFile mirrors vault's internal token helper. A missing
// file or home directory just means "not logged in"; an unreadable file is
// an error because silently running unauthenticated is harder to debug.
func vaultTokenFromHelperFile() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", nil
	}
	b, err := os.ReadFile(filepath.Join(home, ".vault-token")) // #nosec G304 -- the vault CLI's token file in the user's own home
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading token helper file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

func set(dst *string, override string) {
	if override != "" {
		*dst = override
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// consulURL is the address the Consul library will use, with its scheme
// (CONSUL_HTTP_ADDR may or may not carry one; CONSUL_HTTP_SSL sets it).
func consulURL(cc *consulapi.Config) string {
	if strings.Contains(cc.Address, "://") {
		return cc.Address
	}
	scheme := cc.Scheme
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + cc.Address
}
