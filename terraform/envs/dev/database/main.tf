# Environment dev, layer database: its own state (key dev/database.tfstate), changed
# independently of the other layers. `hstack infra apply --env dev` runs
# the layers in order (network, cluster, database, then the outputs root in
# terraform/envs/dev) and passes each layer's outputs to the next as the
# variables of the same names. The rest of the backend configuration
# (bucket, region, lock table) is in ../backend.hcl, written from
# terraform/bootstrap's backend_config output.

terraform {
  required_version = ">= 1.7"

  backend "s3" {
    key = "dev/database.tfstate"
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
  tags = { ManagedBy = "hstack", Environment = "dev", Layer = "database" }
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

module "aurora" {
  source = "../../../modules/aurora"

  name                = local.name
  vpc_id              = var.vpc_id
  database_subnet_ids = var.database_subnet_ids
  availability_zones  = var.availability_zones
  allowed_security_group_ids = {
    clients = var.client_security_group_id
    vault   = var.vault_security_group_id
  }
  instance_class                      = "db.t4g.medium"
  instance_count                      = 2
  backup_retention_days               = 7
  deletion_protection                 = false
  final_snapshot                      = false
  performance_insights_retention_days = 7
}
