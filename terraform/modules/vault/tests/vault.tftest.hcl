mock_provider "aws" {
  source = "../../mocks"
}

variables {
  name                     = "hstack-test"
  vpc_id                   = "vpc-0123456789abcdef0"
  vpc_cidr_block           = "10.20.0.0/16"
  subnet_ids               = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  ami_id                   = "ami-0123456789abcdef0"
  instance_profile_name    = "hstack-test-vault"
  server_security_group_id = "sg-000000000000005e1"
  client_security_group_id = "sg-0000000000000c11e"
}

run "raft_cluster_with_kms_unseal" {
  command = apply

  assert {
    condition     = module.fleet.min_size == 3 && module.fleet.max_size == 3
    error_message = "Three Vault nodes by default."
  }
  assert {
    condition     = aws_kms_key.unseal.enable_key_rotation && aws_kms_key.unseal.deletion_window_in_days == 30
    error_message = "The unseal key rotates and cannot be deleted in a hurry."
  }
  assert {
    condition     = output.kms_key_arn == aws_kms_key.unseal.arn
    error_message = "The unseal key's ARN is output for the IAM policy."
  }
  assert {
    condition     = can(regex("^https://[^:/]+:8200$", output.vault_addr))
    error_message = "vault_addr is an https URL on port 8200."
  }
}

run "ingress_only_from_peers_never_ssh" {
  command = apply

  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.peers : r.referenced_security_group_id != null && r.cidr_ipv4 == null && contains([8200, 8201], r.from_port) && r.from_port == r.to_port])
    error_message = "Vault admits only its peers' security groups on 8200/8201."
  }
}

run "rejects_an_even_node_count" {
  command = plan

  variables {
    node_count = 2
  }

  expect_failures = [var.node_count]
}
