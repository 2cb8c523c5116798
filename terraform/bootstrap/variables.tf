variable "region" {
  type        = string
  description = "AWS region of the state bucket and lock table (and of the environments)."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as \"eu-west-1\"."
  }
}

variable "name" {
  type        = string
  description = "Prefix of the state bucket and lock table, e.g. \"acme-hstack\"; the bucket name also carries the account id to be globally unique."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "noncurrent_version_retention_days" {
  type        = number
  description = "Days old versions of state files are kept (undoing a bad apply needs them)."
  default     = 90

  validation {
    condition     = var.noncurrent_version_retention_days >= 7
    error_message = "noncurrent_version_retention_days must be at least 7."
  }
}
