output "writer_endpoint" {
  description = "Host name of the cluster's read-write endpoint."
  value       = aws_rds_cluster.this.endpoint
}

output "reader_endpoint" {
  description = "Host name of the cluster's read-only endpoint (load-balanced over the readers)."
  value       = aws_rds_cluster.this.reader_endpoint
}

output "port" {
  description = "PostgreSQL port of both endpoints."
  value       = aws_rds_cluster.this.port
}

output "database_name" {
  description = "Database created with the cluster."
  value       = aws_rds_cluster.this.database_name
}

output "master_user_secret_arn" {
  description = "ARN of the Secrets Manager secret holding the master user's credentials (Vault's database secrets engine reads it once)."
  value       = aws_rds_cluster.this.master_user_secret[0].secret_arn
  sensitive   = true
}

output "security_group_id" {
  description = "Security group of the cluster."
  value       = aws_security_group.this.id
}

output "guarantees" {
  description = "What the cluster was created with, for the environments' tests and for audits: encryption, backup retention, deletion protection, final snapshot."
  value = {
    storage_encrypted   = aws_rds_cluster.this.storage_encrypted
    backup_retention    = aws_rds_cluster.this.backup_retention_period
    deletion_protection = aws_rds_cluster.this.deletion_protection
    final_snapshot      = !aws_rds_cluster.this.skip_final_snapshot
  }
}

output "cluster_id" {
  description = "Cluster identifier, for `hstack db snapshot` (aws rds create-db-cluster-snapshot --db-cluster-identifier)."
  value       = aws_rds_cluster.this.cluster_identifier
}
