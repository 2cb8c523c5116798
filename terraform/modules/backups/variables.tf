variable "name" {
  type        = string
  description = "Name prefix of the bucket and its key, e.g. \"hstack-prod\"."
}

variable "retention_days" {
  type        = number
  description = "Days a snapshot set is kept."
  default     = 30

  validation {
    condition     = var.retention_days >= 1
    error_message = "retention_days must be at least 1."
  }
}

variable "noncurrent_retention_days" {
  type        = number
  description = "Days an overwritten or deleted snapshot object is kept after that."
  default     = 7

  validation {
    condition     = var.noncurrent_retention_days >= 1
    error_message = "noncurrent_retention_days must be at least 1."
  }
}

variable "force_destroy" {
  type        = bool
  description = "Let `terraform destroy` delete a bucket that still holds snapshots (dev only)."
  default     = false
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
