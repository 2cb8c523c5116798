variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. \"hstack-prod\"; the cluster is \"<name>-aurora\"."
}

variable "vpc_id" {
  type        = string
  description = "VPC of the database (network output vpc_id)."
}

variable "database_subnet_ids" {
  type        = list(string)
  description = "Isolated database subnets, one per AZ (network output database_subnet_ids)."

  validation {
    condition     = length(var.database_subnet_ids) >= 2
    error_message = "database_subnet_ids must name at least 2 subnets so the writer and the reader sit in different AZs."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "AZs of the database subnets (network output availability_zones); instance i runs in AZ i, so writer and readers never share one."

  validation {
    condition     = length(distinct(var.availability_zones)) >= 2
    error_message = "availability_zones must name at least 2 distinct AZs."
  }
}

variable "allowed_security_group_ids" {
  type        = map(string)
  description = "The only security groups admitted on the PostgreSQL port, by name: the Nomad clients (apps) and Vault (which creates the apps' database users)."

  validation {
    condition     = length(var.allowed_security_group_ids) > 0
    error_message = "allowed_security_group_ids must name at least one security group (clients and vault); the database admits nobody else."
  }
}

variable "engine_version" {
  type        = string
  description = "Aurora PostgreSQL engine version."
  default     = "16.6"
}

variable "instance_class" {
  type        = string
  description = "Instance class of the writer and the readers."
  default     = "db.r6g.large"
}

variable "instance_count" {
  type        = number
  description = "Instances: one writer plus readers, each in a different AZ (2 or 3)."
  default     = 2

  validation {
    condition     = var.instance_count >= 2 && var.instance_count <= 3
    error_message = "instance_count must be 2 or 3: a writer and one or two readers, one per AZ."
  }
}

variable "database_name" {
  type        = string
  description = "Database created with the cluster."
  default     = "app"
}

variable "master_username" {
  type        = string
  description = "Master user; its password is generated and kept in Secrets Manager (manage_master_user_password), never in state."
  default     = "hstack_admin"
}

variable "backup_retention_days" {
  type        = number
  description = "Days of automated backups (point-in-time recovery window)."
  default     = 14

  validation {
    condition     = var.backup_retention_days >= 7 && var.backup_retention_days <= 35
    error_message = "backup_retention_days must be between 7 and 35: fewer than 7 days of backups is not enough to notice and undo a bad migration."
  }
}

variable "deletion_protection" {
  type        = bool
  description = "Refuse to delete the cluster; prod sets it, dev may not so that it can be torn down."
  default     = true
}

variable "final_snapshot" {
  type        = bool
  description = "Take a final snapshot when the cluster is deleted (prod)."
  default     = true
}

variable "performance_insights_retention_days" {
  type        = number
  description = "Days Performance Insights keeps its data: 7 (free) or a multiple of 31."
  default     = 7

  validation {
    condition     = var.performance_insights_retention_days == 7 || var.performance_insights_retention_days % 31 == 0
    error_message = "performance_insights_retention_days must be 7 or a multiple of 31 (up to 731)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}
