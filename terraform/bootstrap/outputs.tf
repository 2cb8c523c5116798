output "state_bucket" {
  description = "S3 bucket of the environments' state."
  value       = aws_s3_bucket.state.bucket
}

output "lock_table" {
  description = "DynamoDB table that locks the state."
  value       = aws_dynamodb_table.lock.name
}

output "kms_key_arn" {
  description = "KMS key the state is encrypted with."
  value       = aws_kms_key.state.arn
}

output "backend_config" {
  description = "Contents of terraform/envs/<env>/backend.hcl: the partial S3 backend configuration every layer of an environment is initialised with."
  value       = <<-EOT
    bucket         = "${aws_s3_bucket.state.bucket}"
    region         = "${var.region}"
    dynamodb_table = "${aws_dynamodb_table.lock.name}"
    kms_key_id     = "${aws_kms_key.state.arn}"
    encrypt        = true
  EOT
}
