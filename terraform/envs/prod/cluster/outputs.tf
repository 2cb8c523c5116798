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
  description = "Server AMI in use (servers and Vault)."
  value       = module.servers.ami_id
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
