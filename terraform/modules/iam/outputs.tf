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

output "boot_material_names" {
  description = "Per role (server, client, vault), the Secrets Manager secret names its instances read at boot, by the name boot.sh knows them by (ca, consul_gossip, nomad_gossip, consul_tls, nomad_tls, vault_tls); the fleets write them into cluster.json."
  value       = { for role, kinds in local.role_secrets : role => { for k, s in kinds : k => aws_secretsmanager_secret.boot[s].name } }
}

output "boot_material_arns" {
  description = "ARN of every boot secret, by secret (ca, consul_gossip, nomad_gossip, server_consul, ...): where the operator uploads the material (docs/runbooks.md)."
  value       = { for k, s in aws_secretsmanager_secret.boot : k => s.arn }
}

output "boot_material_kms_key_arn" {
  description = "KMS key the boot secrets are encrypted with."
  value       = aws_kms_key.secrets.arn
}
