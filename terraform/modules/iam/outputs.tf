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

output "snapshot_writer_policy" {
  description = "The clients' snapshot-writer policy document (JSON)."
  value       = aws_iam_role_policy.snapshot_writer.policy
}

output "client_role_name" {
  description = "Name of the Nomad clients' role (the clients module attaches the autoscaler's policy to it)."
  value       = aws_iam_role.this["client"].name
}
