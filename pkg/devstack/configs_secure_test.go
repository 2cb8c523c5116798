package devstack

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2/hclwrite"
)

// The secure configs carry what production runs with, and the plain ones
// none of it.
func TestSecureConfigs(t *testing.T) {
	s := &Stack{Dir: t.TempDir(), Ports: StandardPorts()}
	s.state.Secure = true
	if err := s.makePKI(); err != nil {
		t.Fatal(err)
	}
	s.agentConsulTokens = map[string]string{"nomad-server": "srv-token", "nomad-client": "cli-token"}
	text := func(f *hclwrite.File) string { return string(hclwrite.Format(f.Bytes())) }
	for name, c := range map[string]struct {
		got  string
		want []string
	}{
		"consul":       {text(s.consulConfig()), []string{`encrypt`, `default_policy           = "deny"`, `verify_incoming = true`, `verify_server_hostname = true`, `https    = 8500`, `http     = -1`}},
		"vault":        {text(s.vaultConfig()), []string{`tls_cert_file`, `api_addr      = "https://127.0.0.1:8200"`}},
		"nomad server": {text(s.nomadServerConfig()), []string{`encrypt`, `rpc                    = true`, `verify_server_hostname = true`, `token      = "srv-token"`, `ssl        = true`, `address               = "https://127.0.0.1:8200"`, `task_identity {`, `aud = ["consul.io"]`}},
		"nomad client": {text(s.nomadClientConfig()), []string{`token      = "cli-token"`, `enabled = true`, `ca_file`}},
	} {
		for _, w := range c.want {
			if !strings.Contains(c.got, w) {
				t.Errorf("%s config lacks %s:\n%s", name, w, c.got)
			}
		}
	}
	s.state.Secure = false
	for name, got := range map[string]string{"consul": text(s.consulConfig()), "nomad": text(s.nomadServerConfig()), "vault": text(s.vaultConfig())} {
		for _, no := range []string{"acl", "encrypt", "tls {", "token"} {
			if strings.Contains(got, no) {
				t.Errorf("plain %s config has %s:\n%s", name, no, got)
			}
		}
	}
}
