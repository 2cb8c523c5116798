# The public entry point: an ALB in the public subnets with an ACM
# certificate validated in Route 53, HTTPS with a modern TLS policy, HTTP
# redirected to HTTPS, forwarding to the Nomad clients' ingress port, an
# alias record, and access logs in S3.

data "aws_route53_zone" "this" {
  name         = var.zone_name
  private_zone = false
}

locals {
  lb_name    = substr(var.name, 0, 32)
  validation = { for o in aws_acm_certificate.this.domain_validation_options : o.domain_name => o }
}

resource "aws_security_group" "this" {
  name        = "${var.name}-alb"
  description = "Public ALB of ${var.name}"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.name}-alb" })
}

# The only ingress from anywhere in hstack's AWS estate: the public ALB's
# 80 (redirected) and 443.
resource "aws_vpc_security_group_ingress_rule" "public" {
  for_each          = toset(["80", "443"])
  security_group_id = aws_security_group.this.id
  description       = "HTTP(S) from the internet"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "clients" {
  security_group_id = aws_security_group.this.id
  description       = "To the clients' ingress port inside the VPC"
  ip_protocol       = "tcp"
  from_port         = var.ingress_port
  to_port           = var.ingress_port
  cidr_ipv4         = var.vpc_cidr_block
  tags              = var.tags
}

resource "aws_acm_certificate" "this" {
  domain_name       = var.domain_name
  validation_method = "DNS"
  tags              = var.tags

  lifecycle {
    create_before_destroy = true
  }
}

# Keyed by the domain name, known before the certificate exists, so the
# plan never depends on values only AWS computes.
resource "aws_route53_record" "validation" {
  for_each = toset([var.domain_name])

  zone_id         = data.aws_route53_zone.this.zone_id
  name            = local.validation[each.key].resource_record_name
  type            = local.validation[each.key].resource_record_type
  records         = [local.validation[each.key].resource_record_value]
  ttl             = 60
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "this" {
  certificate_arn         = aws_acm_certificate.this.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

# trivy:ignore:AVD-AWS-0053 This is hstack's public entry point: the apps are served to the internet through it; everything behind it is private.
resource "aws_lb" "this" {
  name                       = local.lb_name
  internal                   = false
  load_balancer_type         = "application"
  subnets                    = var.public_subnet_ids
  security_groups            = [aws_security_group.this.id]
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    prefix  = "alb"
    enabled = true
  }

  tags = var.tags

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "ingress" {
  name                 = substr("${var.name}-ingress", 0, 32)
  port                 = var.ingress_port
  protocol             = "HTTP"
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = var.health_check_path
    port                = "traffic-port"
    matcher             = "200-399"
    healthy_threshold   = 2
    unhealthy_threshold = 3
    interval            = 15
  }

  tags = var.tags
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = var.ssl_policy
  certificate_arn   = aws_acm_certificate_validation.this.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.ingress.arn
  }

  tags = var.tags
}

resource "aws_lb_listener" "http" {
  load_balancer_arn = aws_lb.this.arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"

    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }

  tags = var.tags
}

resource "aws_route53_record" "alias" {
  zone_id = data.aws_route53_zone.this.zone_id
  name    = var.domain_name
  type    = "A"

  alias {
    name                   = aws_lb.this.dns_name
    zone_id                = aws_lb.this.zone_id
    evaluate_target_health = true
  }
}
