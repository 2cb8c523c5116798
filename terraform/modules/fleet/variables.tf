variable "name" {
  type        = string
  description = "Name of the fleet, e.g. \"hstack-prod-server\"; names its security group, launch template and ASG."
}

variable "role" {
  type        = string
  description = "What the fleet runs, written to the instances' Role tag and user data: server, vault or client."

  validation {
    condition     = contains(["server", "vault", "client"], var.role)
    error_message = "role must be server, vault or client."
  }
}

variable "cluster_tag" {
  type        = map(string)
  description = "The tag (one key, one value) that cloud auto-join looks instances up by; propagated to every instance."

  validation {
    condition     = length(var.cluster_tag) == 1
    error_message = "cluster_tag must hold exactly one key and value, e.g. { hstack-cluster = \"hstack-prod\" }."
  }
}

variable "vpc_id" {
  type        = string
  description = "VPC of the fleet's security group."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC: the fleet may reach every address inside it."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private-app subnets the ASG spreads over, one per AZ."

  validation {
    condition     = length(var.subnet_ids) >= 2
    error_message = "subnet_ids must name at least 2 subnets (one per AZ) so the fleet survives an AZ failure."
  }
}

variable "ami_id" {
  type        = string
  description = "AMI the instances boot, from `hstack image build` (images.auto.tfvars.json)."

  validation {
    condition     = can(regex("^ami-[0-9a-f]{8,17}$", var.ami_id))
    error_message = "ami_id must be an AMI id like \"ami-0123456789abcdef0\" (run `hstack image build`, which writes images.auto.tfvars.json)."
  }
}

variable "instance_types" {
  type        = list(string)
  description = "Instance types; with more than one, the ASG mixes them (the first is the launch template's default)."

  validation {
    condition     = length(var.instance_types) >= 1
    error_message = "instance_types must name at least one instance type."
  }
}

variable "on_demand_base_capacity" {
  type        = number
  description = "With mixed instance types: instances that are always on-demand; above it, on_demand_percentage_above_base."
  default     = 0
}

variable "on_demand_percentage_above_base" {
  type        = number
  description = "With mixed instance types: the on-demand share (0-100) above the base; the rest is spot."
  default     = 100

  validation {
    condition     = var.on_demand_percentage_above_base >= 0 && var.on_demand_percentage_above_base <= 100
    error_message = "on_demand_percentage_above_base must be between 0 and 100."
  }
}

variable "min_size" {
  type        = number
  description = "Minimum number of instances."
}

variable "max_size" {
  type        = number
  description = "Maximum number of instances."
}

variable "desired_capacity" {
  type        = number
  description = "Instances to start with; later the autoscaler (clients) or nobody (servers) changes it."

  validation {
    condition     = var.desired_capacity >= var.min_size && var.desired_capacity <= var.max_size
    error_message = "desired_capacity must lie between min_size and max_size."
  }
}

variable "min_healthy_percentage" {
  type        = number
  description = "Instance refresh (new AMI): the share of the fleet kept in service while instances are replaced one batch at a time."
  default     = 90
}

variable "instance_profile_name" {
  type        = string
  description = "IAM instance profile of the instances (module iam)."
}

variable "termination_hook_timeout" {
  type        = number
  description = "Seconds a terminating instance may wait for its termination watch to drain it (a lifecycle hook, completed early by the watch); 0 for no hook."
  default     = 0

  validation {
    condition     = var.termination_hook_timeout == 0 || (var.termination_hook_timeout >= 30 && var.termination_hook_timeout <= 7200)
    error_message = "termination_hook_timeout must be 0 (no hook) or 30 to 7200 seconds (the lifecycle hook's heartbeat timeout)."
  }
}

variable "instance_config" {
  type        = any
  description = "Cluster settings the agents read at boot from /etc/hstack/cluster.json (role-specific: bootstrap_expect, retry_join, ...). Never secrets: those come from Vault and KMS."
  default     = {}
}

variable "root_device_name" {
  type        = string
  description = "Root device of the AMI (Debian images: /dev/xvda)."
  default     = "/dev/xvda"
}

variable "root_volume_size" {
  type        = number
  description = "Root volume size in GiB."
  default     = 30

  validation {
    condition     = var.root_volume_size >= 8
    error_message = "root_volume_size must be at least 8 GiB."
  }
}

variable "ebs_kms_key_arn" {
  type        = string
  description = "KMS key for the root volumes; null uses the account's default EBS key. Volumes are encrypted either way."
  default     = null
}

variable "target_group_arns" {
  type        = list(string)
  description = "Load balancer target groups the ASG registers its instances in."
  default     = []
}

variable "health_check_type" {
  type        = string
  description = "ASG health check: EC2, or ELB to replace instances their load balancer finds unhealthy."
  default     = "EC2"

  validation {
    condition     = contains(["EC2", "ELB"], var.health_check_type)
    error_message = "health_check_type must be EC2 or ELB."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource and instance."
  default     = {}
}

variable "internal_lb_ports" {
  type        = list(number)
  description = "TCP ports an internal network load balancer in front of the fleet forwards (e.g. Nomad 4646, Vault 8200); [] for none."
  default     = []
}

variable "internal_lb_allowed_cidr_blocks" {
  type        = list(string)
  description = "Who may reach the internal load balancer: CIDRs inside the VPC or of a VPN. Defaults to the VPC."
  default     = null

  validation {
    condition     = var.internal_lb_allowed_cidr_blocks == null || alltrue([for c in coalesce(var.internal_lb_allowed_cidr_blocks, []) : c != "0.0.0.0/0"])
    error_message = "internal_lb_allowed_cidr_blocks must not contain 0.0.0.0/0: the cluster APIs are not public."
  }
}

variable "boot_secrets" {
  type        = map(string)
  description = "Secrets Manager secret names the instances read at boot, by kind (ca, consul_gossip, nomad_gossip, consul_tls, nomad_tls, vault_tls; module iam's boot_material_names[role]); written into cluster.json as secret_<kind>. Names only: the values never pass through Terraform."
  default     = {}
}
