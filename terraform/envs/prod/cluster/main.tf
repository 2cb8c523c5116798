# Environment prod, layer cluster: its own state (key prod/cluster.tfstate), changed
# independently of the other layers. `hstack infra apply --env prod` runs
# the layers in order (network, cluster, database, then the outputs root in
# terraform/envs/prod) and passes each layer's outputs to the next as the
# variables of the same names. The rest of the backend configuration
# (bucket, region, lock table) is in ../backend.hcl, written from
# terraform/bootstrap's backend_config output.

terraform {
  required_version = ">= 1.7"

  backend "s3" {
    key = "prod/cluster.tfstate"
  }

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0"
    }
  }
}

locals {
  name = "hstack-prod"
  tags = { ManagedBy = "hstack", Environment = "prod", Layer = "cluster" }
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

module "iam" {
  source = "../../../modules/iam"

  name                 = local.name
  vault_kms_key_arn    = module.vault.kms_key_arn
  snapshot_bucket_arn  = module.backups.bucket_arn
  snapshot_kms_key_arn = module.backups.kms_key_arn
}

module "servers" {
  source = "../../../modules/servers"

  name                     = local.name
  vpc_id                   = var.vpc_id
  vpc_cidr_block           = var.vpc_cidr_block
  subnet_ids               = var.app_subnet_ids
  ami_id                   = var.server_ami_id
  server_count             = 3
  instance_type            = "t3.large"
  instance_profile_name    = module.iam.server_instance_profile_name
  boot_secrets             = module.iam.boot_material_names["server"]
  client_security_group_id = module.clients.security_group_id
  vault_security_group_id  = module.vault.security_group_id
}

module "vault" {
  source = "../../../modules/vault"

  name                     = local.name
  vpc_id                   = var.vpc_id
  vpc_cidr_block           = var.vpc_cidr_block
  subnet_ids               = var.app_subnet_ids
  ami_id                   = var.vault_ami_id
  node_count               = 3
  instance_type            = "t3.medium"
  instance_profile_name    = module.iam.vault_instance_profile_name
  boot_secrets             = module.iam.boot_material_names["vault"]
  server_security_group_id = module.servers.security_group_id
  client_security_group_id = module.clients.security_group_id
}

module "clients" {
  source = "../../../modules/clients"

  name                            = local.name
  vpc_id                          = var.vpc_id
  vpc_cidr_block                  = var.vpc_cidr_block
  subnet_ids                      = var.app_subnet_ids
  ami_id                          = var.client_ami_id
  instance_types                  = ["m6i.large", "m5.large", "m6a.large"]
  on_demand_percentage_above_base = 100
  min_size                        = 3
  max_size                        = 20
  desired_capacity                = 3
  instance_profile_name           = module.iam.client_instance_profile_name
  boot_secrets                    = module.iam.boot_material_names["client"]
  role_name                       = module.iam.client_role_name
  server_security_group_id        = module.servers.security_group_id
  alb_security_group_id           = module.alb.security_group_id
  target_group_arns               = [module.alb.target_group_arn]
  retry_join                      = module.servers.retry_join
}

module "alb" {
  source = "../../../modules/alb"

  name                = local.name
  vpc_id              = var.vpc_id
  vpc_cidr_block      = var.vpc_cidr_block
  public_subnet_ids   = var.public_subnet_ids
  zone_name           = var.zone_name
  domain_name         = var.domain_name
  deletion_protection = true
}

# The periodic hstack-snapshot job's bucket (Terraform output
# snapshot_bucket); the clients' role may add sets to it.
module "backups" {
  source = "../../../modules/backups"

  name           = local.name
  retention_days = 30
  force_destroy  = false
}

# The ECR repository and the OIDC role of the application repositories'
# .github/workflows/deliver.yml (outputs ecr_repository_name and
# deliver_role_arn).
module "delivery" {
  source = "../../../modules/delivery"

  name                     = local.name
  repository_name          = "${local.name}/pingapp"
  github_repositories      = var.deliver_github_repositories
  github_oidc_provider_arn = var.github_oidc_provider_arn
}
