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
