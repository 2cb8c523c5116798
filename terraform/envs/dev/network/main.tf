# Environment dev, layer network: its own state (key dev/network.tfstate), changed
# independently of the other layers. `hstack infra apply --env dev` runs
# the layers in order (network, cluster, database, then the outputs root in
# terraform/envs/dev) and passes each layer's outputs to the next as the
# variables of the same names. The rest of the backend configuration
# (bucket, region, lock table) is in ../backend.hcl, written from
# terraform/bootstrap's backend_config output.

terraform {
  required_version = ">= 1.7"

  backend "s3" {
    key = "dev/network.tfstate"
  }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

locals {
  name = "hstack-dev"
  tags = { ManagedBy = "hstack", Environment = "dev", Layer = "network" }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}

variable "region" {
  type        = string
  description = "AWS region of the environment."
  default     = "eu-west-1"
}

module "network" {
  source = "../../../modules/network"

  name                    = local.name
  cidr_block              = "10.30.0.0/16"
  single_nat_gateway      = true
  flow_log_retention_days = 14
}
