output "nomad_addr" {
  description = "Nomad API address (NOMAD_ADDR)."
  value       = module.servers.nomad_addr
}

output "consul_addr" {
  description = "Consul HTTPS API address (CONSUL_HTTP_ADDR)."
  value       = module.servers.consul_addr
}

output "vault_addr" {
  description = "Vault API address (VAULT_ADDR)."
  value       = module.vault.vault_addr
}

output "alb_dns_name" {
  description = "DNS name of the public ALB."
  value       = module.alb.dns_name
}

output "app_url" {
  description = "HTTPS URL the apps are served at."
  value       = module.alb.url
}

output "server_ami_id" {
  description = "Server AMI in use."
  value       = module.servers.ami_id
}

output "vault_ami_id" {
  description = "Vault AMI in use."
  value       = module.vault.ami_id
}

output "client_ami_id" {
  description = "Client AMI in use."
  value       = module.clients.ami_id
}

output "client_asg_name" {
  description = "Autoscaling group of the Nomad clients: the autoscaler's target."
  value       = module.clients.asg_name
}

output "client_asg_min_size" {
  description = "Fewest Nomad clients the autoscaler may leave."
  value       = module.clients.min_size
}

output "client_asg_max_size" {
  description = "Most Nomad clients the autoscaler may start."
  value       = module.clients.max_size
}

output "client_security_group_id" {
  description = "Security group of the Nomad clients (the database layer admits it)."
  value       = module.clients.security_group_id
}

output "vault_security_group_id" {
  description = "Security group of Vault (the database layer admits it)."
  value       = module.vault.security_group_id
}

output "aws_region" {
  description = "AWS region of the environment (the autoscaler's aws-asg target)."
  value       = var.region
}

output "snapshot_bucket" {
  description = "S3 bucket the periodic hstack-snapshot job ships Nomad, Consul and Vault snapshots to."
  value       = module.backups.bucket
}

output "ecr_repository_name" {
  description = "ECR repository of pingapp's images (deliver.yml's ecr-repository input)."
  value       = module.delivery.repository_name
}

output "ecr_repository_url" {
  description = "ECR repository URL of pingapp's images, without a tag."
  value       = module.delivery.repository_url
}

output "deliver_role_arn" {
  description = "IAM role deliver.yml assumes through GitHub OIDC (its aws-role-arn input)."
  value       = module.delivery.role_arn
}

output "github_oidc_provider_arn" {
  description = "The GitHub OIDC provider the deliver role trusts, for the account's other environments."
  value       = module.delivery.github_oidc_provider_arn
}
