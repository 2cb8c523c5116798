variable "vpc_id" {
  type        = string
  description = "ID of the VPC (network layer). From the network layer."
}

variable "nomad_addr" {
  type        = string
  description = "Nomad API address (NOMAD_ADDR). From the cluster layer."
}

variable "consul_addr" {
  type        = string
  description = "Consul HTTPS API address (CONSUL_HTTP_ADDR). From the cluster layer."
}

variable "vault_addr" {
  type        = string
  description = "Vault API address (VAULT_ADDR). From the cluster layer."
}

variable "alb_dns_name" {
  type        = string
  description = "DNS name of the public ALB. From the cluster layer."
}

variable "app_url" {
  type        = string
  description = "HTTPS URL the apps are served at. From the cluster layer."
}

variable "server_ami_id" {
  type        = string
  description = "Server AMI in use (Nomad/Consul servers and Vault). From the cluster layer."
}

variable "client_ami_id" {
  type        = string
  description = "Client AMI in use. From the cluster layer."
}

variable "client_asg_name" {
  type        = string
  description = "Autoscaling group of the Nomad clients: the Nomad autoscaler's target. From the cluster layer."
}

variable "client_asg_min_size" {
  type        = number
  description = "Fewest Nomad clients the autoscaler may leave. From the cluster layer."
}

variable "client_asg_max_size" {
  type        = number
  description = "Most Nomad clients the autoscaler may start. From the cluster layer."
}

variable "aurora_writer_endpoint" {
  type        = string
  description = "Host name of Aurora's read-write endpoint (hstack.hcl database main writer). From the database layer."
}

variable "aurora_reader_endpoint" {
  type        = string
  description = "Host name of Aurora's read-only endpoint (hstack.hcl database main reader). From the database layer."
}

variable "aurora_port" {
  type        = number
  description = "PostgreSQL port of Aurora's endpoints (hstack.hcl database main port). From the database layer."
}

variable "aurora_master_user_secret_arn" {
  type        = string
  description = "Secrets Manager secret of Aurora's master user (Vault's database secrets engine reads it). From the database layer."
  sensitive   = true
}

variable "aws_region" {
  type        = string
  description = "AWS region of the environment (the autoscaler's aws-asg target). From the cluster layer."
}

variable "snapshot_bucket" {
  type        = string
  description = "S3 bucket of the periodic hstack-snapshot job. From the cluster layer."
}

variable "ecr_repository_name" {
  type        = string
  description = "ECR repository of pingapp's images. From the cluster layer."
}

variable "ecr_repository_url" {
  type        = string
  description = "ECR repository URL of pingapp's images. From the cluster layer."
}

variable "deliver_role_arn" {
  type        = string
  description = "IAM role deliver.yml assumes through GitHub OIDC. From the cluster layer."
}

variable "aurora_cluster_id" {
  type        = string
  description = "Identifier of the Aurora cluster. From the database layer."
}
