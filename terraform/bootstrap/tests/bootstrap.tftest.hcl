mock_provider "aws" {
  source = "../mocks"

  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
}

variables {
  region = "eu-west-1"
  name   = "acme-hstack"
}

run "versioned_encrypted_private_state_with_locking" {
  command = apply

  assert {
    condition     = aws_s3_bucket.state.bucket == "acme-hstack-tfstate-123456789012"
    error_message = "The bucket name carries the account id."
  }
  assert {
    condition     = aws_s3_bucket_versioning.state.versioning_configuration[0].status == "Enabled"
    error_message = "State is versioned."
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.state.rule : r.apply_server_side_encryption_by_default[0].sse_algorithm]) == "aws:kms"
    error_message = "State is encrypted with KMS."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.state.block_public_policy && aws_s3_bucket_public_access_block.state.restrict_public_buckets
    error_message = "The state bucket is private."
  }
  assert {
    condition     = aws_dynamodb_table.lock.hash_key == "LockID" && aws_dynamodb_table.lock.point_in_time_recovery[0].enabled
    error_message = "The lock table is keyed by LockID, as the S3 backend wants."
  }
  assert {
    condition     = strcontains(output.backend_config, "dynamodb_table = \"acme-hstack-tflock\"") && strcontains(output.backend_config, "bucket         = \"acme-hstack-tfstate-123456789012\"")
    error_message = "backend_config is the environments' backend.hcl."
  }
}

run "rejects_short_version_retention" {
  command = plan

  variables {
    noncurrent_version_retention_days = 1
  }

  expect_failures = [var.noncurrent_version_retention_days]
}
