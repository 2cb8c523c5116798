# Aurora PostgreSQL in the isolated database subnets: a writer and readers in
# different AZs, encrypted with a KMS key of its own, TLS enforced, the
# master password generated and kept by Secrets Manager, reachable only
# from the security groups in allowed_security_group_ids.

locals {
  identifier = "${var.name}-aurora"
  port       = 5432
}

resource "aws_kms_key" "this" {
  description         = "${local.identifier} storage, Performance Insights and master secret"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_db_subnet_group" "this" {
  name       = local.identifier
  subnet_ids = var.database_subnet_ids
  tags       = var.tags
}

resource "aws_security_group" "this" {
  name        = local.identifier
  description = "Aurora ${local.identifier}: PostgreSQL from the Nomad clients and Vault only"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = local.identifier })
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  for_each                     = var.allowed_security_group_ids
  security_group_id            = aws_security_group.this.id
  description                  = "PostgreSQL from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = local.port
  to_port                      = local.port
  referenced_security_group_id = each.value
  tags                         = var.tags
}

resource "aws_rds_cluster_parameter_group" "this" {
  name   = local.identifier
  family = "aurora-postgresql${split(".", var.engine_version)[0]}"

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }

  tags = var.tags
}

resource "aws_rds_cluster" "this" {
  lifecycle {
    precondition {
      condition     = var.instance_count <= length(var.availability_zones)
      error_message = "instance_count exceeds the number of availability_zones: two instances would share an AZ."
    }
  }

  cluster_identifier              = local.identifier
  engine                          = "aurora-postgresql"
  engine_version                  = var.engine_version
  database_name                   = var.database_name
  master_username                 = var.master_username
  manage_master_user_password     = true
  master_user_secret_kms_key_id   = aws_kms_key.this.arn
  port                            = local.port
  db_subnet_group_name            = aws_db_subnet_group.this.name
  vpc_security_group_ids          = [aws_security_group.this.id]
  db_cluster_parameter_group_name = aws_rds_cluster_parameter_group.this.name
  storage_encrypted               = true
  kms_key_id                      = aws_kms_key.this.arn
  backup_retention_period         = var.backup_retention_days
  preferred_backup_window         = "02:00-03:00"
  preferred_maintenance_window    = "sun:04:00-sun:05:00"
  copy_tags_to_snapshot           = true
  # trivy:ignore:AVD-AWS-0343 Set from var.deletion_protection: prod passes true (asserted by envs/prod/database/tests), dev false so that `hstack infra destroy --env dev` can remove it.
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = !var.final_snapshot
  final_snapshot_identifier           = var.final_snapshot ? "${local.identifier}-final" : null
  iam_database_authentication_enabled = true
  enabled_cloudwatch_logs_exports     = ["postgresql"]
  apply_immediately                   = false
  tags                                = var.tags
}

resource "aws_rds_cluster_instance" "this" {
  count                                 = var.instance_count
  identifier                            = "${local.identifier}-${count.index}"
  cluster_identifier                    = aws_rds_cluster.this.id
  engine                                = aws_rds_cluster.this.engine
  engine_version                        = aws_rds_cluster.this.engine_version
  instance_class                        = var.instance_class
  db_subnet_group_name                  = aws_db_subnet_group.this.name
  availability_zone                     = var.availability_zones[count.index]
  publicly_accessible                   = false
  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.this.arn
  performance_insights_retention_period = var.performance_insights_retention_days
  auto_minor_version_upgrade            = true
  # The first instance is the writer on creation; the others fail over in
  # that order.
  promotion_tier = count.index
  tags           = var.tags
}
