variable "role" {
  type        = string
  description = "Which image: server (Nomad + Consul servers), client (Nomad + Consul clients, Docker) or vault."
  validation {
    condition     = contains(["server", "client", "vault"], var.role)
    error_message = "The role must be server, client or vault."
  }
}

variable "region" {
  type        = string
  description = "AWS region the AMI is built in."
  default     = "eu-west-1"
}

variable "instance_type" {
  type        = string
  description = "Instance type of the temporary build instance."
  default     = "t3.small"
}

variable "volume_size" {
  type        = number
  description = "Root volume size in GiB."
  default     = 20
}

variable "kms_key_id" {
  type        = string
  description = "KMS key (id, ARN or alias) that encrypts the root volume and the AMI's snapshot; empty for the account's default EBS key."
  default     = ""
}

variable "subnet_id" {
  type        = string
  description = "Subnet for the build instance; empty for the default VPC."
  default     = ""
}

variable "release_source" {
  type        = string
  description = "Where the provisioning scripts download Nomad, Consul and Vault from (releases.hashicorp.com layout)."
  default     = "https://releases.hashicorp.com"
}

variable "hashicorp_gpg_key" {
  type        = string
  description = "File with HashiCorp's public release key (fingerprint C874 011F 0AB4 0511 0D02 1055 3436 5D94 72D7 468F), to check the SHA256SUMS signatures."
}

variable "join_tag_key" {
  type        = string
  description = "EC2 tag key the agents auto-join by."
  default     = "hstack-cluster"
}

variable "join_tag_value" {
  type        = string
  description = "EC2 tag value the agents auto-join by (the cluster's name)."
  default     = "hstack"
}

variable "nomad_version" {
  type        = string
  description = "Nomad version baked in (for the AMI's tags; hstack image build passes pkg/tools/versions.env)."
}

variable "consul_version" {
  type        = string
  description = "Consul version baked in."
}

variable "vault_version" {
  type        = string
  description = "Vault version baked in."
}

variable "git_commit" {
  type        = string
  description = "Commit of the repository the image is built from."
  default     = "unknown"
}

variable "manifest" {
  type        = string
  description = "Where the manifest post-processor writes the built AMI ids."
  default     = "packer-manifest.json"
}
