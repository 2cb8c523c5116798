variable "name" {
  type        = string
  description = "Name prefix of the role and the key, e.g. \"hstack-prod\"."
}

variable "repository_name" {
  type        = string
  description = "Name of the ECR repository, e.g. \"shop/pingapp\" (deliver.yml's ecr-repository input)."

  validation {
    condition     = can(regex("^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$", var.repository_name))
    error_message = "repository_name must be an ECR repository name: lower-case letters, digits, . _ - and / between parts."
  }
}

variable "github_repositories" {
  type        = list(string)
  description = "GitHub repositories (\"owner/name\") whose deliver.yml runs may assume the role."

  validation {
    condition     = length(var.github_repositories) > 0 && alltrue([for r in var.github_repositories : can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", r))])
    error_message = "github_repositories must list at least one \"owner/name\", without wildcards."
  }
}

variable "github_branches" {
  type        = list(string)
  description = "Branches of those repositories whose runs may assume the role."
  default     = ["main"]

  validation {
    condition     = length(var.github_branches) > 0 && alltrue([for b in var.github_branches : !strcontains(b, "*")])
    error_message = "github_branches must name at least one branch, without wildcards."
  }
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "ARN of the account's GitHub OIDC provider when another environment created it; null creates it here."
  default     = null
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
