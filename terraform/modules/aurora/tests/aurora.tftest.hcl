mock_provider "aws" {
  source = "../../mocks"

  mock_resource "aws_rds_cluster" {
    defaults = {
      endpoint        = "hstack-test-aurora.cluster-c0ffee.eu-west-1.rds.amazonaws.com"
      reader_endpoint = "hstack-test-aurora.cluster-ro-c0ffee.eu-west-1.rds.amazonaws.com"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-0123"
        kms_key_id    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
        secret_status = "active"
      }]
    }
  }
}

variables {
  name                = "hstack-test"
  vpc_id              = "vpc-0123456789abcdef0"
  database_subnet_ids = ["subnet-0000000000000000d", "subnet-0000000000000000e", "subnet-0000000000000000f"]
  availability_zones  = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  allowed_security_group_ids = {
    clients = "sg-0000000000000c11e"
    vault   = "sg-00000000000000a17"
  }
}

run "encrypted_backed_up_protected" {
  command = apply

  assert {
    condition     = output.cluster_id == "hstack-test-aurora"
    error_message = "The cluster identifier hstack db snapshot needs is an output."
  }
  assert {
    condition     = aws_rds_cluster.this.storage_encrypted && aws_rds_cluster.this.kms_key_id == aws_kms_key.this.arn
    error_message = "Storage is encrypted with the cluster's KMS key."
  }
  assert {
    condition     = aws_rds_cluster.this.backup_retention_period >= 7
    error_message = "At least 7 days of backups."
  }
  assert {
    condition     = aws_rds_cluster.this.deletion_protection && !aws_rds_cluster.this.skip_final_snapshot && aws_rds_cluster.this.final_snapshot_identifier == "hstack-test-aurora-final"
    error_message = "By default the cluster is deletion-protected and takes a final snapshot."
  }
  assert {
    condition     = aws_rds_cluster.this.manage_master_user_password && aws_rds_cluster.this.master_password == null
    error_message = "The master password is managed by Secrets Manager, never given."
  }
  assert {
    condition     = one([for p in aws_rds_cluster_parameter_group.this.parameter : p.value if p.name == "rds.force_ssl"]) == "1"
    error_message = "TLS is enforced."
  }
}

run "writer_and_reader_in_different_azs" {
  command = apply

  assert {
    condition     = length(aws_rds_cluster_instance.this) == 2 && length(distinct([for i in aws_rds_cluster_instance.this : i.availability_zone])) == 2
    error_message = "A writer and a reader, each in its own AZ."
  }
  assert {
    condition     = alltrue([for i in aws_rds_cluster_instance.this : i.performance_insights_enabled && !i.publicly_accessible])
    error_message = "Performance Insights on, never publicly accessible."
  }
}

run "reachable_only_from_clients_and_vault" {
  command = apply

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.postgres : r.referenced_security_group_id]) == toset(["sg-0000000000000c11e", "sg-00000000000000a17"])
    error_message = "Only the clients' and Vault's security groups are admitted."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.postgres : r.cidr_ipv4 == null && r.from_port == 5432 && r.to_port == 5432])
    error_message = "Only PostgreSQL's port, from security groups, never from an address range."
  }
  assert {
    condition     = output.port == 5432 && output.writer_endpoint != output.reader_endpoint
    error_message = "Writer, reader and port are output."
  }
}

run "rejects_short_backup_retention" {
  command = plan

  variables {
    backup_retention_days = 3
  }

  expect_failures = [var.backup_retention_days]
}

run "rejects_a_single_instance" {
  command = plan

  variables {
    instance_count = 1
  }

  expect_failures = [var.instance_count]
}

run "rejects_an_open_database" {
  command = plan

  variables {
    allowed_security_group_ids = {}
  }

  expect_failures = [var.allowed_security_group_ids]
}
