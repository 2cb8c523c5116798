variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. \"hstack-prod\"."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 lower-case letters, digits and dashes, starting with a letter."
  }
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC: a /16 to /20, split into 3 public, 3 private-app and 3 isolated-database subnets (each 1/16 of it)."

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && try(tonumber(split("/", var.cidr_block)[1]) >= 16 && tonumber(split("/", var.cidr_block)[1]) <= 20, false)
    error_message = "cidr_block must be an IPv4 CIDR from /16 to /20 (e.g. \"10.20.0.0/16\")."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for all three AZs instead of one per AZ: cheaper (dev), but private subnets lose egress when that AZ fails."
  default     = false
}

variable "flow_log_retention_days" {
  type        = number
  description = "Days CloudWatch Logs keeps the VPC flow logs."
  default     = 90

  validation {
    condition     = contains([7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.flow_log_retention_days)
    error_message = "flow_log_retention_days must be at least 7 and one of the values CloudWatch Logs accepts (7, 14, 30, 60, 90, 120, 150, 180, 365, ...)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
