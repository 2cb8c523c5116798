output "server_instance_profile_name" {
  description = "Instance profile of the Nomad/Consul servers."
  value       = aws_iam_instance_profile.this["server"].name
}

output "client_instance_profile_name" {
  description = "Instance profile of the Nomad clients."
  value       = aws_iam_instance_profile.this["client"].name
}

output "vault_instance_profile_name" {
  description = "Instance profile of the Vault servers."
  value       = aws_iam_instance_profile.this["vault"].name
}

output "role_arns" {
  description = "Role ARN per fleet: server, client, vault."
  value       = { for k, r in aws_iam_role.this : k => r.arn }
}
