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

variable "node_count" {
  type        = number
  description = "Vault servers with Raft integrated storage: 3 or 5."
  default     = 3

  validation {
    condition     = contains([3, 5], var.node_count)
    error_message = "node_count must be 3 or 5: Vault's Raft storage needs an odd number of nodes for a quorum."
  }
}

variable "instance_type" {
  type        = string
  description = "Instance type of the Vault servers."
  default     = "t3.small"
}

variable "server_security_group_id" {
  type        = string
  description = "Security group of the Nomad servers (module servers): Nomad asks Vault for workload identities' tokens."
}

variable "client_security_group_id" {
  type        = string
  description = "Security group of the Nomad clients (module clients): tasks fetch their secrets and database credentials."
}

variable "kms_deletion_window_days" {
  type        = number
  description = "Days a deleted unseal key can still be recovered. Without the key Vault's data is lost for good."
  default     = 30

  validation {
    condition     = var.kms_deletion_window_days >= 7 && var.kms_deletion_window_days <= 30
    error_message = "kms_deletion_window_days must be between 7 and 30."
  }
}

variable "boot_secrets" {
  type        = map(string)
  description = "Secrets Manager secret names this fleet's instances read at boot (module iam's boot_material_names for the role); see the fleet module."
  default     = {}
}
