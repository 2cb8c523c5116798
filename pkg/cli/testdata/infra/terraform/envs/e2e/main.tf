# The outputs root, as in terraform/envs/prod: no resources, the layers'
# outputs and the AMI ids under stable names.
terraform {
  backend "local" {}
}

variable "vpc_id" {
  type        = string
  description = "From the network layer."
}

variable "aurora_writer_endpoint" {
  type        = string
  description = "From the database layer."
}

variable "aurora_reader_endpoint" {
  type        = string
  description = "From the database layer."
}

variable "aurora_port" {
  type        = number
  description = "From the database layer."
}

variable "aurora_master_user_secret_arn" {
  type        = string
  description = "From the database layer."
  sensitive   = true
}

variable "server_ami_id" {
  type        = string
  description = "From images.auto.tfvars.json."
}

variable "client_ami_id" {
  type        = string
  description = "From images.auto.tfvars.json."
}

output "vpc_id" {
  description = "VPC."
  value       = var.vpc_id
}

output "aurora_writer_endpoint" {
  description = "Writer endpoint."
  value       = var.aurora_writer_endpoint
}

output "aurora_reader_endpoint" {
  description = "Reader endpoint."
  value       = var.aurora_reader_endpoint
}

output "aurora_port" {
  description = "Port."
  value       = var.aurora_port
}

output "aurora_master_user_secret_arn" {
  description = "Master user secret."
  value       = var.aurora_master_user_secret_arn
  sensitive   = true
}

output "server_ami_id" {
  description = "Server AMI in use."
  value       = var.server_ami_id
}

output "client_ami_id" {
  description = "Client AMI in use."
  value       = var.client_ami_id
}
