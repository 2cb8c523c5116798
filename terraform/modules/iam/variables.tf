variable "name" {
  type        = string
  description = "Name prefix of the roles and instance profiles, e.g. \"hstack-prod\"."
}

variable "vault_kms_key_arn" {
  type        = string
  description = "ARN of the KMS key Vault auto-unseals with; only the Vault role may use it."
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "snapshot_bucket_arn" {
  type        = string
  description = "ARN of the snapshot bucket (backups module) the clients' hstack-snapshot job writes to."
}

variable "snapshot_kms_key_arn" {
  type        = string
  description = "ARN of the snapshot bucket's KMS key (backups module)."
}
