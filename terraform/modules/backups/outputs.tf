output "bucket" {
  description = "Name of the snapshot bucket (Terraform output snapshot_bucket of the environments)."
  value       = aws_s3_bucket.this.bucket
}

output "bucket_arn" {
  description = "ARN of the snapshot bucket, for the writer's IAM policy."
  value       = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  description = "ARN of the KMS key the snapshots are encrypted with, for the writer's IAM policy."
  value       = aws_kms_key.this.arn
}
