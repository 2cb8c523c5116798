package terraform

import (
	"path/filepath"
	"testing"

	"github.com/hashicorp/terraform-config-inspect/tfconfig"
)

// TestNoSecretValuesInState: the instances' boot secrets (TLS keys, gossip
// keys) are Secrets Manager shells Terraform creates empty; a secret
// version (or a Vault/SSM value resource) would put the value in the state.
func TestNoSecretValuesInState(t *testing.T) {
	base := srcDir(t)
	forbidden := map[string]string{
		"aws_secretsmanager_secret_version": "its secret_string is stored in the state",
		"aws_ssm_parameter":                 "a SecureString's value is stored in the state",
		"tls_private_key":                   "the private key is stored in the state",
	}
	shells := 0
	for _, rel := range roots(t) {
		mod, diags := tfconfig.LoadModule(filepath.Join(base, rel))
		if diags.HasErrors() {
			t.Fatalf("terraform/%s: %v", rel, diags.Err())
		}
		for _, r := range mod.ManagedResources {
			if why, bad := forbidden[r.Type]; bad {
				t.Errorf("terraform/%s: %s.%s: %s; upload secrets with `aws secretsmanager put-secret-value` (docs/runbooks.md)", rel, r.Type, r.Name, why)
			}
			if r.Type == "aws_secretsmanager_secret" {
				shells++
			}
		}
	}
	if shells == 0 {
		t.Errorf("no aws_secretsmanager_secret: the boot secrets' shells are gone (modules/iam/secrets.tf)")
	}
}
