# A stand-in for the database layer: it needs the network layer's vpc_id.
terraform {
  backend "local" {}
}

variable "vpc_id" {
  type        = string
  description = "From the network layer."
}

resource "terraform_data" "aurora" {
  input = {
    writer = "writer.${var.vpc_id}.example"
    reader = "reader.${var.vpc_id}.example"
    port   = 5432
    secret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:e2e"
  }
}

output "aurora_writer_endpoint" {
  description = "Writer endpoint."
  value       = terraform_data.aurora.output.writer
}

output "aurora_reader_endpoint" {
  description = "Reader endpoint."
  value       = terraform_data.aurora.output.reader
}

output "aurora_port" {
  description = "Port."
  value       = terraform_data.aurora.output.port
}

output "aurora_master_user_secret_arn" {
  description = "Master user secret."
  value       = terraform_data.aurora.output.secret
  sensitive   = true
}
