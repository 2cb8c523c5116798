mock_provider "aws" {
  source = "../../mocks"
}

variables {
  name                 = "hstack-test"
  vault_kms_key_arn    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
  snapshot_bucket_arn  = "arn:aws:s3:::hstack-test-snapshots-123456789012"
  snapshot_kms_key_arn = "arn:aws:kms:eu-west-1:123456789012:key/66666666-7777-8888-9999-000000000000"
}

run "least_privilege" {
  command = apply

  assert {
    condition     = toset(keys(aws_iam_instance_profile.this)) == toset(["server", "client", "vault"])
    error_message = "One instance profile per fleet."
  }
  assert {
    condition     = alltrue([for p in aws_iam_role_policy.auto_join : toset(jsondecode(p.policy).Statement[0].Action) == toset(["ec2:DescribeInstances", "ec2:DescribeTags", "autoscaling:DescribeAutoScalingGroups"])])
    error_message = "Auto-join may only describe instances, tags and ASGs."
  }
  assert {
    condition     = jsondecode(aws_iam_role_policy.vault_unseal.policy).Statement[0].Resource == var.vault_kms_key_arn && aws_iam_role_policy.vault_unseal.role == aws_iam_role.this["vault"].id
    error_message = "Only the Vault role may use the unseal key, and only that key."
  }
  assert {
    condition     = alltrue([for a in aws_iam_role_policy_attachment.ssm : a.policy_arn == "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"])
    error_message = "Every fleet is reachable through SSM Session Manager (there is no SSH)."
  }
  assert {
    condition     = alltrue([for r in aws_iam_role.this : jsondecode(r.assume_role_policy).Statement[0].Principal.Service == "ec2.amazonaws.com"])
    error_message = "Only EC2 may assume the roles."
  }
}

run "clients_may_only_add_snapshots" {
  command = apply

  assert {
    condition     = aws_iam_role_policy.snapshot_writer.role == aws_iam_role.this["client"].id
    error_message = "Only the client role (where the snapshot job runs) writes snapshots."
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.snapshot_writer.policy).Statement : s.Resource])) == toset([
      "arn:aws:s3:::hstack-test-snapshots-123456789012/*", "arn:aws:s3:::hstack-test-snapshots-123456789012",
    "arn:aws:kms:eu-west-1:123456789012:key/66666666-7777-8888-9999-000000000000"])
    error_message = "The grant covers that bucket and its key only."
  }
  assert {
    condition     = !contains(flatten([for s in jsondecode(aws_iam_role_policy.snapshot_writer.policy).Statement : s.Action]), "s3:DeleteObject")
    error_message = "Clients may not delete snapshots (expiry is the lifecycle rule's)."
  }
}

# The boot secrets: shells only (their values never enter the state),
# encrypted with the environment's key, each role reading exactly its own.
run "boot_secrets_are_shells_each_role_reads_its_own" {
  command = apply

  assert {
    condition     = length([for r in keys(aws_secretsmanager_secret.boot) : r]) == 9 && alltrue([for s in aws_secretsmanager_secret.boot : s.kms_key_id == aws_kms_key.secrets.arn])
    error_message = "Every boot secret is encrypted with the environment's own KMS key."
  }
  assert {
    condition     = aws_kms_key.secrets.enable_key_rotation
    error_message = "The boot secrets' key rotates."
  }
  assert {
    condition     = alltrue([for s in aws_secretsmanager_secret.boot : startswith(s.name, "hstack-test/boot/")])
    error_message = "The secrets are named after the environment."
  }
  assert {
    condition = output.boot_material_names == {
      server = { ca = "hstack-test/boot/ca", consul_gossip = "hstack-test/boot/consul-gossip", nomad_gossip = "hstack-test/boot/nomad-gossip", consul_tls = "hstack-test/boot/server-consul", nomad_tls = "hstack-test/boot/server-nomad" }
      client = { ca = "hstack-test/boot/ca", consul_gossip = "hstack-test/boot/consul-gossip", consul_tls = "hstack-test/boot/client-consul", nomad_tls = "hstack-test/boot/client-nomad" }
      vault  = { ca = "hstack-test/boot/ca", consul_gossip = "hstack-test/boot/consul-gossip", consul_tls = "hstack-test/boot/vault-consul", vault_tls = "hstack-test/boot/vault-vault" }
    }
    error_message = "Each role is told exactly the secrets it needs: servers the Nomad gossip key and server certificates, clients client certificates, Vault its own certificate."
  }
  assert {
    condition     = toset(keys(aws_iam_role_policy.boot_secrets)) == toset(["server", "client", "vault"]) && alltrue([for r, p in aws_iam_role_policy.boot_secrets : p.role == aws_iam_role.this[r].id])
    error_message = "Each role has its own boot-secrets policy."
  }
  assert {
    condition = alltrue([for r, p in aws_iam_role_policy.boot_secrets :
      jsondecode(p.policy).Statement[0].Action == "secretsmanager:GetSecretValue" &&
      length(jsondecode(p.policy).Statement[0].Resource) == length(local.role_secrets[r]) &&
      jsondecode(p.policy).Statement[1].Action == "kms:Decrypt" &&
      jsondecode(p.policy).Statement[1].Resource == aws_kms_key.secrets.arn &&
      jsondecode(p.policy).Statement[1].Condition.StringEquals["kms:ViaService"] == "secretsmanager.eu-west-1.amazonaws.com" &&
    length(jsondecode(p.policy).Statement) == 2])
    error_message = "A role may only read its own secrets' values, and decrypt with the secrets' key only through Secrets Manager."
  }
}

# The mock gives every secret its own ARN: the grants name each role's secrets and no
# other role's.
run "boot_secret_grants_are_per_role" {
  command = apply

  assert {
    condition = alltrue([for r, kinds in local.role_secrets :
      toset(jsondecode(aws_iam_role_policy.boot_secrets[r].policy).Statement[0].Resource) == toset([for s in values(kinds) : aws_secretsmanager_secret.boot[s].arn])
    ])
    error_message = "Each role's GetSecretValue grant lists exactly its own secrets."
  }
  assert {
    condition     = !contains(keys(local.role_secrets.client), "nomad_gossip") && !contains(values(local.role_secrets.client), "server_nomad") && !contains(values(local.role_secrets.vault), "server_consul")
    error_message = "Clients never read the servers' Nomad gossip key or server certificates; Vault never the server certificates."
  }
}
