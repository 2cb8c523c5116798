# Nomad and Consul servers on the same instances: one ASG of 3 or 5 from
# the server AMI, joined by EC2 tag, with an internal load balancer for the
# Nomad (4646) and Consul (8501, HTTPS) APIs.

locals {
  cluster_tag = { hstack-cluster = var.name }
  retry_join  = "provider=aws tag_key=hstack-cluster tag_value=${var.name}"

  # Ports the servers serve each other (Raft, Serf) and the agents.
  ports = {
    nomad_http     = { protocol = "tcp", from = 4646, to = 4646 }
    nomad_rpc      = { protocol = "tcp", from = 4647, to = 4647 }
    nomad_serf_tcp = { protocol = "tcp", from = 4648, to = 4648 }
    nomad_serf_udp = { protocol = "udp", from = 4648, to = 4648 }
    consul_rpc     = { protocol = "tcp", from = 8300, to = 8300 }
    consul_lan_tcp = { protocol = "tcp", from = 8301, to = 8301 }
    consul_lan_udp = { protocol = "udp", from = 8301, to = 8301 }
    consul_https   = { protocol = "tcp", from = 8501, to = 8501 }
    consul_grpc    = { protocol = "tcp", from = 8503, to = 8503 }
    consul_dns_tcp = { protocol = "tcp", from = 8600, to = 8600 }
    consul_dns_udp = { protocol = "udp", from = 8600, to = 8600 }
  }
  # Which of them each peer reaches.
  peers = {
    self   = { sg = module.fleet.security_group_id, ports = keys(local.ports) }
    client = { sg = var.client_security_group_id, ports = ["nomad_http", "nomad_rpc", "consul_rpc", "consul_lan_tcp", "consul_lan_udp", "consul_https", "consul_grpc"] }
    vault  = { sg = var.vault_security_group_id, ports = ["consul_rpc", "consul_lan_tcp", "consul_lan_udp", "consul_https"] }
  }
  rules = merge([for peer, p in local.peers : { for port in p.ports : "${peer}-${port}" => merge(local.ports[port], { sg = p.sg, peer = peer, port = port }) }]...)
}

module "fleet" {
  source = "../fleet"

  name                   = "${var.name}-server"
  role                   = "server"
  cluster_tag            = local.cluster_tag
  vpc_id                 = var.vpc_id
  vpc_cidr_block         = var.vpc_cidr_block
  subnet_ids             = var.subnet_ids
  ami_id                 = var.ami_id
  instance_types         = [var.instance_type]
  min_size               = var.server_count
  max_size               = var.server_count
  desired_capacity       = var.server_count
  min_healthy_percentage = 66 # one server of three (or five) at a time
  instance_profile_name  = var.instance_profile_name
  boot_secrets           = var.boot_secrets
  ebs_kms_key_arn        = var.ebs_kms_key_arn
  instance_config = {
    bootstrap_expect = var.server_count
    retry_join       = local.retry_join
  }
  internal_lb_ports               = [4646, 8501]
  internal_lb_allowed_cidr_blocks = var.api_allowed_cidr_blocks
  tags                            = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "peers" {
  for_each                     = local.rules
  security_group_id            = module.fleet.security_group_id
  description                  = "${each.value.port} from ${each.value.peer}"
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.sg
  tags                         = var.tags
}
