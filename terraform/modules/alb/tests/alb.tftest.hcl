mock_provider "aws" {
  source = "../../mocks"

  mock_data "aws_route53_zone" {
    defaults = {
      zone_id = "Z0123456789ABCDEFGHIJ"
    }
  }
  mock_resource "aws_acm_certificate" {
    defaults = {
      arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
      domain_validation_options = [{
        domain_name           = "app.example.com"
        resource_record_name  = "_0123.app.example.com."
        resource_record_type  = "CNAME"
        resource_record_value = "_4567.acm-validations.aws."
      }]
    }
  }
  mock_resource "aws_acm_certificate_validation" {
    defaults = {
      certificate_arn = "arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555"
    }
  }
}

variables {
  name              = "hstack-test"
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr_block    = "10.20.0.0/16"
  public_subnet_ids = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  zone_name         = "example.com"
  domain_name       = "app.example.com"
}

run "only_80_and_443_from_anywhere" {
  command = apply

  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.public : r.from_port]) == toset([80, 443]) && alltrue([for r in aws_vpc_security_group_ingress_rule.public : r.from_port == r.to_port && r.ip_protocol == "tcp"])
    error_message = "The ALB admits the internet on TCP 80 and 443 only."
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.clients.cidr_ipv4 == var.vpc_cidr_block && aws_vpc_security_group_egress_rule.clients.from_port == 8080
    error_message = "The ALB sends traffic only into the VPC, to the ingress port."
  }
}

run "https_with_a_modern_policy_and_redirect" {
  command = apply

  assert {
    condition     = aws_lb_listener.https.protocol == "HTTPS" && aws_lb_listener.https.ssl_policy == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    error_message = "HTTPS with TLS 1.3/1.2 only."
  }
  assert {
    condition     = aws_lb_listener.https.certificate_arn == aws_acm_certificate_validation.this.certificate_arn
    error_message = "The listener uses the validated certificate."
  }
  assert {
    condition     = aws_lb_listener.http.default_action[0].type == "redirect" && aws_lb_listener.http.default_action[0].redirect[0].protocol == "HTTPS" && aws_lb_listener.http.default_action[0].redirect[0].status_code == "HTTP_301"
    error_message = "HTTP is permanently redirected to HTTPS."
  }
  assert {
    condition     = aws_lb_target_group.ingress.port == 8080 && aws_lb.this.drop_invalid_header_fields
    error_message = "The target group forwards to the clients' ingress port; invalid headers are dropped."
  }
}

run "certificate_validated_in_route53_and_alias" {
  command = apply

  assert {
    condition     = aws_acm_certificate.this.validation_method == "DNS" && length(aws_route53_record.validation) == 1 && aws_route53_record.validation["app.example.com"].type == "CNAME"
    error_message = "The certificate is validated by a DNS record in the zone."
  }
  assert {
    condition     = aws_route53_record.alias.name == "app.example.com" && aws_route53_record.alias.alias[0].name == aws_lb.this.dns_name
    error_message = "The domain is an alias of the ALB."
  }
  assert {
    condition     = output.url == "https://app.example.com" && output.dns_name == aws_lb.this.dns_name
    error_message = "The URL and DNS name are output."
  }
}

run "access_logs_to_a_private_bucket" {
  command = apply

  assert {
    condition     = aws_lb.this.access_logs[0].enabled && aws_lb.this.access_logs[0].bucket == aws_s3_bucket.logs.id
    error_message = "Access logs go to the log bucket."
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.logs.block_public_acls && aws_s3_bucket_public_access_block.logs.restrict_public_buckets
    error_message = "The log bucket is private."
  }
}

run "rejects_an_old_tls_policy" {
  command = plan

  variables {
    ssl_policy = "ELBSecurityPolicy-2016-08"
  }

  expect_failures = [var.ssl_policy]
}
