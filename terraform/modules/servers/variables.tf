variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. \"hstack-prod\"; also the cloud auto-join tag value."
}

variable "vpc_id" {
  type        = string
  description = "VPC to run in (network output vpc_id)."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC (network output vpc_cidr_block)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private-app subnets, one per AZ (network output app_subnet_ids)."
}

variable "ami_id" {
  type        = string
  description = "AMI to boot, built by `hstack image build`."
}

variable "instance_profile_name" {
  type        = string
  description = "IAM instance profile (module iam)."
}

variable "ebs_kms_key_arn" {
  type        = string
  description = "KMS key for the root volumes; null uses the account's default EBS key."
  default     = null
}

variable "api_allowed_cidr_blocks" {
  type        = list(string)
  description = "Who may reach the API through the internal load balancer; null is the VPC."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "server_count" {
  type        = number
  description = "Nomad+Consul servers: 3 or 5 (an odd count keeps a Raft quorum; 5 survives two failures)."
  default     = 3

  validation {
    condition     = contains([3, 5], var.server_count)
    error_message = "server_count must be 3 or 5: Raft needs an odd number of servers for a quorum, and more than 5 only slows writes."
  }
}

variable "instance_type" {
  type        = string
  description = "Instance type of the servers."
  default     = "t3.medium"
}

variable "client_security_group_id" {
  type        = string
  description = "Security group of the Nomad clients (module clients): their agents talk to the servers."
}

variable "vault_security_group_id" {
  type        = string
  description = "Security group of Vault (module vault): its Consul agent joins the servers' gossip pool."
}

variable "boot_secrets" {
  type        = map(string)
  description = "Secrets Manager secret names this fleet's instances read at boot (module iam's boot_material_names for the role); see the fleet module."
  default     = {}
}
