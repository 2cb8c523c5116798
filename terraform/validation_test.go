package terraform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad variable values are refused with messages that say what is wanted:
// `terraform validate` of a root that calls the module with a literal bad
// value shows the validation block's error_message at the call's line.
// (The tftest files prove each validation fires with expect_failures; this
// proves what the operator reads.)
func TestValidationMessages(t *testing.T) {
	bin, mirror := terraformBin(t), awsMirror(t)
	tree := copyTree(t)
	for _, tc := range []struct {
		name, module, args, want string
	}{
		{"even server count", "servers", `
  name                     = "hstack-x"
  vpc_id                   = "vpc-1"
  vpc_cidr_block           = "10.0.0.0/16"
  subnet_ids               = ["a", "b", "c"]
  ami_id                   = "ami-0123456789abcdef0"
  instance_profile_name    = "p"
  client_security_group_id = "sg-1"
  vault_security_group_id  = "sg-2"
  server_count             = 4`,
			"server_count must be 3 or 5: Raft needs an odd number of servers for a quorum"},
		{"a /8 VPC", "network", `
  name       = "hstack-x"
  cidr_block = "10.0.0.0/8"`,
			`cidr_block must be an IPv4 CIDR from /16 to /20 (e.g. "10.20.0.0/16").`},
		{"3 days of backups", "aurora", `
  name                       = "hstack-x"
  vpc_id                     = "vpc-1"
  database_subnet_ids        = ["a", "b", "c"]
  availability_zones         = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  allowed_security_group_ids = { clients = "sg-1" }
  backup_retention_days      = 3`,
			"backup_retention_days must be between 7 and 35"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			// Terraform takes a local module only by a relative path.
			rel, err := filepath.Rel(dir, filepath.Join(tree, "modules", tc.module))
			if err != nil {
				t.Fatal(err)
			}
			src := "module \"m\" {\n  source = \"" + filepath.ToSlash(rel) + "\"\n" + tc.args + "\n}\n"
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			env := tfEnv(mirror, filepath.Join(dir, ".data"))
			if out, err := tf(t, bin, env, dir, "init", "-backend=false", "-input=false", "-no-color"); err != nil {
				t.Fatalf("init: %v\n%s", err, out)
			}
			out, err := tf(t, bin, env, dir, "validate", "-no-color")
			if err == nil {
				t.Fatalf("validate accepted the bad value:\n%s", out)
			}
			flat := strings.Join(strings.Fields(out), " ")
			if !strings.Contains(flat, tc.want) || !strings.Contains(out, "main.tf line") {
				t.Errorf("validate output lacks %q at main.tf:\n%s", tc.want, out)
			}
		})
	}
}
