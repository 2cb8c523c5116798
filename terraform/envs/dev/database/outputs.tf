output "aurora_writer_endpoint" {
  description = "Host name of Aurora's read-write endpoint."
  value       = module.aurora.writer_endpoint
}

output "aurora_reader_endpoint" {
  description = "Host name of Aurora's read-only endpoint."
  value       = module.aurora.reader_endpoint
}

output "aurora_port" {
  description = "PostgreSQL port of both endpoints."
  value       = module.aurora.port
}

output "aurora_master_user_secret_arn" {
  description = "Secrets Manager secret of the master user's credentials."
  value       = module.aurora.master_user_secret_arn
  sensitive   = true
}

output "aurora_guarantees" {
  description = "Encryption, backup retention, deletion protection and final snapshot of the cluster."
  value       = module.aurora.guarantees
}

output "aurora_cluster_id" {
  description = "Identifier of the Aurora cluster (`hstack db snapshot`)."
  value       = module.aurora.cluster_id
}
