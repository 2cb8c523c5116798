variable "vpc_id" {
  type        = string
  description = "VPC (network layer output vpc_id)."
}

variable "database_subnet_ids" {
  type        = list(string)
  description = "Isolated database subnets (network layer output database_subnet_ids)."
}

variable "availability_zones" {
  type        = list(string)
  description = "AZs of the database subnets (network layer output availability_zones)."
}

variable "client_security_group_id" {
  type        = string
  description = "Security group of the Nomad clients (cluster layer output client_security_group_id)."
}

variable "vault_security_group_id" {
  type        = string
  description = "Security group of Vault (cluster layer output vault_security_group_id)."
}
