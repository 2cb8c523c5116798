output "security_group_id" {
  description = "Security group of the Nomad clients (Aurora and Vault admit it)."
  value       = module.fleet.security_group_id
}

output "asg_name" {
  description = "Autoscaling group of the clients: the Nomad autoscaler's target."
  value       = module.fleet.asg_name
}

output "min_size" {
  description = "Fewest clients the autoscaler may leave."
  value       = module.fleet.min_size
}

output "max_size" {
  description = "Most clients the autoscaler may start."
  value       = module.fleet.max_size
}

output "ami_id" {
  description = "Client AMI in use."
  value       = module.fleet.ami_id
}

output "autoscaler_policy" {
  description = "The aws-asg policy document (JSON) the clients' role has for the Nomad Autoscaler."
  value       = aws_iam_role_policy.autoscaler.policy
}
