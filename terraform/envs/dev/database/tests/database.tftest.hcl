mock_provider "aws" {
  source = "../../../mocks"

  mock_resource "aws_rds_cluster" {
    defaults = {
      endpoint        = "hstack-dev-aurora.cluster-c0ffee.eu-west-1.rds.amazonaws.com"
      reader_endpoint = "hstack-dev-aurora.cluster-ro-c0ffee.eu-west-1.rds.amazonaws.com"
      master_user_secret = [{
        secret_arn    = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-0123"
        kms_key_id    = "arn:aws:kms:eu-west-1:123456789012:key/11111111-2222-3333-4444-555555555555"
        secret_status = "active"
      }]
    }
  }
}

# What the network and cluster layers hand over.
variables {
  vpc_id                   = "vpc-0123456789abcdef0"
  database_subnet_ids      = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  availability_zones       = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
  client_security_group_id = "sg-0000000000000c11e"
  vault_security_group_id  = "sg-00000000000000a17"
}

run "aurora_outputs_and_guarantees" {
  command = apply

  assert {
    condition     = output.aurora_cluster_id == "hstack-dev-aurora"
    error_message = "hstack db snapshot reads the cluster identifier."
  }
  assert {
    condition     = output.aurora_writer_endpoint == "hstack-dev-aurora.cluster-c0ffee.eu-west-1.rds.amazonaws.com" && output.aurora_reader_endpoint == "hstack-dev-aurora.cluster-ro-c0ffee.eu-west-1.rds.amazonaws.com" && output.aurora_port == 5432
    error_message = "hstack.hcl's from_terraform_output reads the writer, the reader and the port."
  }
  assert {
    condition     = output.aurora_guarantees.storage_encrypted && output.aurora_guarantees.backup_retention >= 7
    error_message = "Aurora is encrypted and keeps at least 7 days of backups."
  }
  assert {
    condition     = output.aurora_guarantees.deletion_protection == false && output.aurora_guarantees.final_snapshot == false
    error_message = "dev: deletion protection false, final snapshot false."
  }
}
