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


variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "instance_types" {
  type        = list(string)
  description = "Instance types of the client fleet, mixed by the ASG; similar sizes keep Nomad's bin packing predictable."
  default     = ["t3.large", "t3a.large", "m5.large"]
}

variable "on_demand_percentage_above_base" {
  type        = number
  description = "On-demand share (0-100) above one on-demand instance; the rest is spot."
  default     = 100
}

variable "min_size" {
  type        = number
  description = "Fewest clients: the Nomad autoscaler's lower bound."
  default     = 2

  validation {
    condition     = var.min_size >= 1
    error_message = "min_size must be at least 1."
  }
}

variable "max_size" {
  type        = number
  description = "Most clients: the Nomad autoscaler's upper bound."
  default     = 10

  validation {
    condition     = var.max_size >= 1 && var.max_size <= 200
    error_message = "max_size must be between 1 and 200."
  }
}

variable "desired_capacity" {
  type        = number
  description = "Clients to start with; the autoscaler moves it between min_size and max_size."
  default     = 3

  validation {
    condition     = var.desired_capacity >= var.min_size && var.desired_capacity <= var.max_size
    error_message = "desired_capacity must lie between min_size and max_size."
  }
}

variable "ingress_port" {
  type        = number
  description = "Port the clients' ingress (the router job) listens on; the ALB forwards to it."
  default     = 8080

  validation {
    condition     = var.ingress_port >= 1024 && var.ingress_port <= 65535
    error_message = "ingress_port must be an unprivileged port (1024-65535)."
  }
}

variable "server_security_group_id" {
  type        = string
  description = "Security group of the Nomad/Consul servers: they reach the clients' agents."
}

variable "alb_security_group_id" {
  type        = string
  description = "Security group of the public ALB: the only source of ingress traffic."
}

variable "target_group_arns" {
  type        = list(string)
  description = "ALB target groups the clients register in (module alb)."
  default     = []
}

variable "retry_join" {
  type        = string
  description = "Cloud auto-join string of the servers (module servers output retry_join)."
}

variable "role_name" {
  type        = string
  description = "Name of the IAM role behind instance_profile_name: the Nomad Autoscaler on the clients may resize this group and no other."
}

variable "drain_deadline_seconds" {
  type        = number
  description = "How long a client's allocations get to move when the node stops: the AMI's drain_on_shutdown deadline (scripts/provision --drain-deadline, 5m by default). The termination lifecycle hook waits this long and two minutes more."
  default     = 300

  validation {
    condition     = var.drain_deadline_seconds >= 30 && var.drain_deadline_seconds <= 3600
    error_message = "drain_deadline_seconds must be 30 to 3600."
  }
}

variable "boot_secrets" {
  type        = map(string)
  description = "Secrets Manager secret names this fleet's instances read at boot (module iam's boot_material_names for the role); see the fleet module."
  default     = {}
}
