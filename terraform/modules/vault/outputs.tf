output "vault_addr" {
  description = "Vault API address (VAULT_ADDR), through the internal load balancer."
  value       = "https://${module.fleet.internal_lb_dns_name}:8200"
}

output "security_group_id" {
  description = "Security group of the Vault servers (Aurora admits it: Vault manages the database users)."
  value       = module.fleet.security_group_id
}

output "kms_key_arn" {
  description = "ARN of the auto-unseal KMS key."
  value       = aws_kms_key.unseal.arn
}

output "asg_name" {
  description = "Autoscaling group of the Vault servers."
  value       = module.fleet.asg_name
}

output "ami_id" {
  description = "AMI the Vault nodes boot (the vault role's image)."
  value       = module.fleet.ami_id
}
