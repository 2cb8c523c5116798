mock_provider "aws" {
  source = "../../../mocks"

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
  mock_resource "aws_lb" {
    defaults = {
      arn      = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:loadbalancer/net/hstack/0123456789abcdef"
      dns_name = "internal-hstack-prod.eu-west-1.elb.amazonaws.com"
      zone_id  = "Z2IFOLAFXWLO4F"
    }
  }
}

# What the network layer and `hstack image build` hand over.
variables {
  vpc_id            = "vpc-0123456789abcdef0"
  vpc_cidr_block    = "10.20.0.0/16"
  app_subnet_ids    = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  public_subnet_ids = ["subnet-0000000000000000d", "subnet-0000000000000000e", "subnet-0000000000000000f"]
  server_ami_id     = "ami-00000000000005e12"
  client_ami_id     = "ami-0000000000000c11e"
  vault_ami_id      = "ami-00000000000000a17"

  deliver_github_repositories = ["hstack-dev/hstack"]
}

run "outputs_hstack_reads" {
  command = apply

  assert {
    condition     = output.nomad_addr == "https://internal-hstack-prod.eu-west-1.elb.amazonaws.com:4646" && output.consul_addr == "https://internal-hstack-prod.eu-west-1.elb.amazonaws.com:8501" && output.vault_addr == "https://internal-hstack-prod.eu-west-1.elb.amazonaws.com:8200"
    error_message = "Nomad, Consul and Vault addresses are https URLs of the internal load balancers."
  }
  assert {
    condition     = output.alb_dns_name != "" && output.app_url == "https://app.example.com"
    error_message = "The ALB's DNS name and the apps' URL are output."
  }
  assert {
    condition     = output.server_ami_id == var.server_ami_id && output.client_ami_id == var.client_ami_id && output.vault_ami_id == var.vault_ami_id
    error_message = "The AMIs in use are the ones hstack image build wrote."
  }
  assert {
    condition     = output.client_asg_name == "hstack-prod-client" && output.client_asg_min_size == 3 && output.client_asg_max_size == 20
    error_message = "The client ASG and its bounds are output for the autoscaler."
  }
  assert {
    condition     = module.servers.server_count == 3
    error_message = "Three Nomad/Consul servers."
  }
  assert {
    condition     = output.client_security_group_id != output.vault_security_group_id
    error_message = "Clients and Vault have security groups of their own for the database layer."
  }
}

run "day2_outputs" {
  command = apply

  assert {
    condition     = output.snapshot_bucket == "hstack-prod-snapshots-123456789012" && output.aws_region == "eu-west-1"
    error_message = "The snapshot bucket and the region are output for the snapshot job and the autoscaler."
  }
  assert {
    condition     = output.ecr_repository_name == "hstack-prod/pingapp" && output.deliver_role_arn == module.delivery.role_arn
    error_message = "The ECR repository and the deliver role are output for deliver.yml."
  }
  assert {
    condition     = jsondecode(module.iam.snapshot_writer_policy)["Statement"][0]["Resource"] == "${module.backups.bucket_arn}/*"
    error_message = "The clients' role may write to the snapshot bucket."
  }
}

run "rejects_a_missing_image" {
  command = plan

  variables {
    server_ami_id = ""
  }

  expect_failures = [var.server_ami_id]
}
