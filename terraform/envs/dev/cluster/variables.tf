variable "vpc_id" {
  type        = string
  description = "VPC (network layer output vpc_id)."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC (network layer output vpc_cidr_block)."
}

variable "app_subnet_ids" {
  type        = list(string)
  description = "Private-app subnets (network layer output app_subnet_ids)."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets (network layer output public_subnet_ids)."
}

variable "server_ami_id" {
  type        = string
  description = "Server AMI (Nomad and Consul servers), from images.auto.tfvars.json written by `hstack image build --role server`."

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.server_ami_id))
    error_message = "server_ami_id must be an AMI id (ami-...): run `hstack image build --role server`, which writes terraform/envs/dev/images.auto.tfvars.json."
  }
}

variable "vault_ami_id" {
  type        = string
  description = "Vault AMI (Vault, a Consul client), from images.auto.tfvars.json written by `hstack image build --role vault`."

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.vault_ami_id))
    error_message = "vault_ami_id must be an AMI id (ami-...): run `hstack image build --role vault`, which writes terraform/envs/dev/images.auto.tfvars.json."
  }
}

variable "client_ami_id" {
  type        = string
  description = "Client AMI (Nomad client, Docker), from images.auto.tfvars.json written by `hstack image build --role client`."

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.client_ami_id))
    error_message = "client_ami_id must be an AMI id (ami-...): run `hstack image build --role client`, which writes terraform/envs/dev/images.auto.tfvars.json."
  }
}

variable "zone_name" {
  type        = string
  description = "Route 53 public hosted zone of the apps' domain (set in terraform.tfvars)."
}

variable "domain_name" {
  type        = string
  description = "Host name the apps are served at (set in terraform.tfvars)."
}

variable "deliver_github_repositories" {
  type        = list(string)
  description = "GitHub repositories (\"owner/name\") whose deliver.yml may push to the ECR repository (set in terraform.tfvars)."
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "The account's GitHub OIDC provider when another environment of the account created it (its output github_oidc_provider_arn); null creates it here."
  default     = null
}
