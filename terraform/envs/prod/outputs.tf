output "vpc_id" {
  description = "ID of the VPC (network layer)."
  value       = var.vpc_id
}

output "nomad_addr" {
  description = "Nomad API address (NOMAD_ADDR)."
  value       = var.nomad_addr
}

output "consul_addr" {
  description = "Consul HTTPS API address (CONSUL_HTTP_ADDR)."
  value       = var.consul_addr
}

output "vault_addr" {
  description = "Vault API address (VAULT_ADDR)."
  value       = var.vault_addr
}

output "alb_dns_name" {
  description = "DNS name of the public ALB."
  value       = var.alb_dns_name
}

output "app_url" {
  description = "HTTPS URL the apps are served at."
  value       = var.app_url
}

output "server_ami_id" {
  description = "Server AMI in use (Nomad/Consul servers and Vault)."
  value       = var.server_ami_id
}

output "client_ami_id" {
  description = "Client AMI in use."
  value       = var.client_ami_id
}

output "client_asg_name" {
  description = "Autoscaling group of the Nomad clients: the Nomad autoscaler's target."
  value       = var.client_asg_name
}

output "client_asg_min_size" {
  description = "Fewest Nomad clients the autoscaler may leave."
  value       = var.client_asg_min_size
}

output "client_asg_max_size" {
  description = "Most Nomad clients the autoscaler may start."
  value       = var.client_asg_max_size
}

output "aurora_writer_endpoint" {
  description = "Host name of Aurora's read-write endpoint (hstack.hcl database main writer)."
  value       = var.aurora_writer_endpoint
}

output "aurora_reader_endpoint" {
  description = "Host name of Aurora's read-only endpoint (hstack.hcl database main reader)."
  value       = var.aurora_reader_endpoint
}

output "aurora_port" {
  description = "PostgreSQL port of Aurora's endpoints (hstack.hcl database main port)."
  value       = var.aurora_port
}

output "aurora_master_user_secret_arn" {
  description = "Secrets Manager secret of Aurora's master user (Vault's database secrets engine reads it)."
  value       = var.aurora_master_user_secret_arn
  sensitive   = true
}

output "aws_region" {
  description = "AWS region of the environment (the autoscaler's aws-asg target)."
  value       = var.aws_region
}

output "snapshot_bucket" {
  description = "S3 bucket the periodic hstack-snapshot job ships Nomad, Consul and Vault snapshots to."
  value       = var.snapshot_bucket
}

output "ecr_repository_name" {
  description = "ECR repository of pingapp's images (deliver.yml's ecr-repository input)."
  value       = var.ecr_repository_name
}

output "ecr_repository_url" {
  description = "ECR repository URL of pingapp's images, without a tag."
  value       = var.ecr_repository_url
}

output "deliver_role_arn" {
  description = "IAM role deliver.yml assumes through GitHub OIDC (its aws-role-arn input)."
  value       = var.deliver_role_arn
}

output "aurora_cluster_id" {
  description = "Identifier of the Aurora cluster (`hstack db snapshot`)."
  value       = var.aurora_cluster_id
}
