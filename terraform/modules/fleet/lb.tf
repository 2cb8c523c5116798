# An internal network load balancer in front of the fleet, when
# internal_lb_ports is set: the stable addresses of the Nomad, Consul and
# Vault APIs (instances come and go with the ASG). TCP pass-through: the
# agents terminate TLS themselves.

locals {
  lb       = length(var.internal_lb_ports) > 0
  lb_ports = { for p in var.internal_lb_ports : tostring(p) => p }
  lb_cidrs = coalesce(var.internal_lb_allowed_cidr_blocks, [var.vpc_cidr_block])
  # Names of load balancers and target groups are at most 32 characters.
  lb_name = substr(var.name, 0, 28)
}

resource "aws_security_group" "lb" {
  count       = local.lb ? 1 : 0
  name        = "${var.name}-lb"
  description = "Internal load balancer of ${var.name}"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = "${var.name}-lb" })
}

resource "aws_vpc_security_group_ingress_rule" "lb" {
  for_each          = { for pair in setproduct(keys(local.lb_ports), local.lb_cidrs) : "${pair[0]}-${pair[1]}" => { port = local.lb_ports[pair[0]], cidr = pair[1] } }
  security_group_id = aws_security_group.lb[0].id
  description       = "${var.role} API from inside the VPC"
  ip_protocol       = "tcp"
  from_port         = each.value.port
  to_port           = each.value.port
  cidr_ipv4         = each.value.cidr
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "lb" {
  for_each                     = local.lb_ports
  security_group_id            = aws_security_group.lb[0].id
  description                  = "To the ${var.role} instances"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.this.id
  tags                         = local.tags
}

resource "aws_vpc_security_group_ingress_rule" "from_lb" {
  for_each                     = local.lb_ports
  security_group_id            = aws_security_group.this.id
  description                  = "From the internal load balancer"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = aws_security_group.lb[0].id
  tags                         = local.tags
}

resource "aws_lb" "this" {
  count                            = local.lb ? 1 : 0
  name                             = local.lb_name
  internal                         = true
  load_balancer_type               = "network"
  subnets                          = var.subnet_ids
  security_groups                  = [aws_security_group.lb[0].id]
  enable_cross_zone_load_balancing = true
  tags                             = local.tags
}

resource "aws_lb_target_group" "this" {
  for_each             = local.lb_ports
  name                 = "${substr(var.name, 0, 26)}-${each.value}"
  port                 = each.value
  protocol             = "TCP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    protocol = "TCP"
    port     = "traffic-port"
  }

  tags = local.tags
}

resource "aws_lb_listener" "this" {
  for_each          = local.lb_ports
  load_balancer_arn = aws_lb.this[0].arn
  port              = each.value
  protocol          = "TCP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }

  tags = local.tags
}
