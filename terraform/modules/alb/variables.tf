variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. \"hstack-prod\"."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the ALB (network output vpc_id)."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC: the ALB sends traffic only inside it."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets, one per AZ (network output public_subnet_ids)."

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must name at least 2 subnets: an ALB spans at least two AZs."
  }
}

variable "zone_name" {
  type        = string
  description = "Route 53 public hosted zone the certificate is validated in and the alias record created in, e.g. \"example.com\"."
}

variable "domain_name" {
  type        = string
  description = "Host name the apps are served at, inside zone_name, e.g. \"app.example.com\"."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain_name))
    error_message = "domain_name must be a lower-case DNS name such as \"app.example.com\"."
  }
}

variable "ingress_port" {
  type        = number
  description = "Port of the clients' ingress the target group forwards to."
  default     = 8080
}

variable "health_check_path" {
  type        = string
  description = "HTTP path the target group checks the clients' ingress at."
  default     = "/health"
}

variable "ssl_policy" {
  type        = string
  description = "TLS policy of the HTTPS listener: TLS 1.3 with 1.2 fallback, forward-secret ciphers only."
  default     = "ELBSecurityPolicy-TLS13-1-2-2021-06"

  validation {
    condition     = contains(["ELBSecurityPolicy-TLS13-1-2-2021-06", "ELBSecurityPolicy-TLS13-1-3-2021-06", "ELBSecurityPolicy-TLS13-1-2-Res-2021-06"], var.ssl_policy)
    error_message = "ssl_policy must be a modern TLS 1.2+/1.3 policy: ELBSecurityPolicy-TLS13-1-2-2021-06, ELBSecurityPolicy-TLS13-1-2-Res-2021-06 or ELBSecurityPolicy-TLS13-1-3-2021-06."
  }
}

variable "access_log_retention_days" {
  type        = number
  description = "Days the ALB access logs are kept in S3."
  default     = 90

  validation {
    condition     = var.access_log_retention_days >= 7
    error_message = "access_log_retention_days must be at least 7."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the ALB (prod)."
  default     = true
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
