# The bucket the periodic hstack-snapshot Nomad job ships Nomad, Consul and
# Vault snapshots to (`hstack snapshot save --upload s3://BUCKET/STACK`).
# Snapshots hold the clusters' secrets (Vault's barrier-encrypted, Consul's
# ACL tokens in the clear), so the bucket is private, TLS-only and encrypted
# with a key of its own; versioning keeps an overwritten or deleted set
# recoverable, and the lifecycle rule bounds what is kept.

data "aws_caller_identity" "current" {}

locals {
  # Bucket names are global: the account ID keeps two accounts' apart.
  bucket = "${var.name}-snapshots-${data.aws_caller_identity.current.account_id}"
}

resource "aws_kms_key" "this" {
  description         = "${var.name} cluster snapshots"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-snapshots"
  target_key_id = aws_kms_key.this.key_id
}

# trivy:ignore:AVD-AWS-0089 Access to the snapshots is audited by CloudTrail data events in the account baseline; a log bucket per bucket would only duplicate it.
resource "aws_s3_bucket" "this" {
  bucket        = local.bucket
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# An hourly set is kept retention_days; an overwritten or deleted one
# noncurrent_retention_days more, so a mistaken delete can still be undone.
resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id

  rule {
    id     = "expire-snapshots"
    status = "Enabled"
    filter {}

    expiration {
      days = var.retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "TLSOnly"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    }]
  })

  depends_on = [aws_s3_bucket_public_access_block.this]
}
