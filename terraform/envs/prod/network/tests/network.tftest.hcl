mock_provider "aws" {
  source = "../../../mocks"

  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
    }
  }
  mock_data "aws_caller_identity" {
    defaults = {
      account_id = "123456789012"
    }
  }
  mock_data "aws_region" {
    defaults = {
      region = "eu-west-1"
    }
  }
}

run "network_outputs" {
  command = apply

  assert {
    condition     = output.vpc_cidr_block == "10.20.0.0/16" && output.availability_zones == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    error_message = "The prod VPC is 10.20.0.0/16 over three AZs."
  }
  assert {
    condition     = length(output.public_subnet_ids) == 3 && length(output.app_subnet_ids) == 3 && length(output.database_subnet_ids) == 3
    error_message = "Three subnets per tier."
  }
  assert {
    condition     = module.network.nat_gateway_count == 3
    error_message = "prod runs 3 NAT gateway(s)."
  }
}
