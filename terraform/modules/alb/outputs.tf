output "dns_name" {
  description = "DNS name of the ALB."
  value       = aws_lb.this.dns_name
}

output "url" {
  description = "HTTPS URL the apps are served at (the Route 53 alias)."
  value       = "https://${var.domain_name}"
}

output "security_group_id" {
  description = "Security group of the ALB (the clients admit it on the ingress port)."
  value       = aws_security_group.this.id
}

output "target_group_arn" {
  description = "Target group of the clients' ingress."
  value       = aws_lb_target_group.ingress.arn
}

output "access_log_bucket" {
  description = "S3 bucket holding the ALB access logs."
  value       = aws_s3_bucket.logs.id
}
