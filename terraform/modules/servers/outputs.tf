output "security_group_id" {
  description = "Security group of the servers."
  value       = module.fleet.security_group_id
}

output "asg_name" {
  description = "Autoscaling group of the servers."
  value       = module.fleet.asg_name
}

output "server_count" {
  description = "Number of servers (3 or 5)."
  value       = module.fleet.max_size
}

output "nomad_addr" {
  description = "Nomad API address (NOMAD_ADDR), through the internal load balancer."
  value       = "https://${module.fleet.internal_lb_dns_name}:4646"
}

output "consul_addr" {
  description = "Consul HTTPS API address (CONSUL_HTTP_ADDR), through the internal load balancer."
  value       = "https://${module.fleet.internal_lb_dns_name}:8501"
}

output "ami_id" {
  description = "Server AMI in use."
  value       = module.fleet.ami_id
}

output "retry_join" {
  description = "The cloud auto-join string agents join the servers with."
  value       = local.retry_join
}
