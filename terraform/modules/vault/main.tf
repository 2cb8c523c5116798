# Vault: 3 or 5 nodes with Raft integrated storage, auto-unsealed with a KMS
# key of its own (only Vault's role may use it), behind an internal load
# balancer on 8200.

locals {
  cluster_tag = { hstack-vault = var.name }
  peers = {
    self-api     = { sg = module.fleet.security_group_id, port = 8200 }
    self-cluster = { sg = module.fleet.security_group_id, port = 8201 }
    server-api   = { sg = var.server_security_group_id, port = 8200 }
    client-api   = { sg = var.client_security_group_id, port = 8200 }
  }
}

resource "aws_kms_key" "unseal" {
  description             = "${var.name} Vault auto-unseal"
  enable_key_rotation     = true
  deletion_window_in_days = var.kms_deletion_window_days
  tags                    = var.tags
}

resource "aws_kms_alias" "unseal" {
  name          = "alias/${var.name}-vault-unseal"
  target_key_id = aws_kms_key.unseal.key_id
}

module "fleet" {
  source = "../fleet"

  name                   = "${var.name}-vault"
  role                   = "vault"
  cluster_tag            = local.cluster_tag
  vpc_id                 = var.vpc_id
  vpc_cidr_block         = var.vpc_cidr_block
  subnet_ids             = var.subnet_ids
  ami_id                 = var.ami_id
  instance_types         = [var.instance_type]
  min_size               = var.node_count
  max_size               = var.node_count
  desired_capacity       = var.node_count
  min_healthy_percentage = 66
  instance_profile_name  = var.instance_profile_name
  boot_secrets           = var.boot_secrets
  ebs_kms_key_arn        = var.ebs_kms_key_arn
  instance_config = {
    raft_retry_join = "provider=aws tag_key=hstack-vault tag_value=${var.name}"
    awskms_key_id   = aws_kms_key.unseal.key_id
  }
  internal_lb_ports               = [8200]
  internal_lb_allowed_cidr_blocks = var.api_allowed_cidr_blocks
  tags                            = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "peers" {
  for_each                     = local.peers
  security_group_id            = module.fleet.security_group_id
  description                  = "Vault ${each.value.port} from ${each.key}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
  referenced_security_group_id = each.value.sg
  tags                         = var.tags
}
