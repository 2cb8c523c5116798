output "security_group_id" {
  description = "Security group of the fleet's instances."
  value       = aws_security_group.this.id
}

output "asg_name" {
  description = "Name of the autoscaling group."
  value       = aws_autoscaling_group.this.name
}

output "min_size" {
  description = "Minimum size of the autoscaling group."
  value       = aws_autoscaling_group.this.min_size
}

output "max_size" {
  description = "Maximum size of the autoscaling group."
  value       = aws_autoscaling_group.this.max_size
}

output "launch_template_id" {
  description = "ID of the launch template."
  value       = aws_launch_template.this.id
}

output "ami_id" {
  description = "AMI the launch template boots."
  value       = aws_launch_template.this.image_id
}

output "internal_lb_dns_name" {
  description = "DNS name of the internal load balancer, null without internal_lb_ports."
  value       = local.lb ? aws_lb.this[0].dns_name : null
}

output "asg_arn" {
  description = "ARN of the Auto Scaling group, for policies that may change it (the Nomad Autoscaler's)."
  value       = aws_autoscaling_group.this.arn
}

output "instance_config" {
  description = "What the instances read at boot from /etc/hstack/cluster.json (the user data)."
  value       = local.instance_config
}

output "lifecycle_hooks" {
  description = "The group's lifecycle hooks: the termination hook its clients' watch completes, or none."
  value       = aws_autoscaling_group.this.initial_lifecycle_hook
}
