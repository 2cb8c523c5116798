mock_provider "aws" {
  source = "../../mocks"

  mock_resource "aws_s3_bucket" {
    defaults = {
      arn = "arn:aws:s3:::hstack-test-snapshots-123456789012"
    }
  }
}

variables {
  name = "hstack-test"
}

run "private_encrypted_versioned_expiring" {
  command = apply

  assert {
    condition     = output.bucket == "hstack-test-snapshots-123456789012"
    error_message = "The bucket is named after the environment and the account."
  }
  assert {
    condition     = aws_s3_bucket_versioning.this.versioning_configuration[0].status == "Enabled"
    error_message = "The bucket is versioned."
  }
  assert {
    condition = alltrue([for r in aws_s3_bucket_server_side_encryption_configuration.this.rule :
    alltrue([for d in r.apply_server_side_encryption_by_default : d.sse_algorithm == "aws:kms" && d.kms_master_key_id == aws_kms_key.this.arn])])
    error_message = "Objects are encrypted with the bucket's own KMS key."
  }
  assert {
    condition     = aws_kms_key.this.enable_key_rotation
    error_message = "The key rotates."
  }
  assert {
    condition = (aws_s3_bucket_public_access_block.this.block_public_acls && aws_s3_bucket_public_access_block.this.block_public_policy &&
    aws_s3_bucket_public_access_block.this.ignore_public_acls && aws_s3_bucket_public_access_block.this.restrict_public_buckets)
    error_message = "All public access is blocked."
  }
  assert {
    condition     = !aws_s3_bucket.this.force_destroy
    error_message = "A bucket with snapshots is not destroyed by default."
  }
  assert {
    condition = anytrue([for r in aws_s3_bucket_lifecycle_configuration.this.rule :
      r.status == "Enabled" && r.expiration[0].days == 30 && r.noncurrent_version_expiration[0].noncurrent_days == 7 &&
    r.abort_incomplete_multipart_upload[0].days_after_initiation == 1])
    error_message = "Sets expire after retention_days, old versions a week later, and failed uploads are cleaned up."
  }
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Condition.Bool["aws:SecureTransport"] == "false" && jsondecode(aws_s3_bucket_policy.this.policy).Statement[0].Effect == "Deny"
    error_message = "Requests without TLS are denied."
  }
}

run "retention_must_be_positive" {
  command = plan

  variables {
    retention_days = 0
  }

  expect_failures = [var.retention_days]
}
