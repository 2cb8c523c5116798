mock_provider "aws" {
  source = "../../mocks"

  mock_data "aws_availability_zones" {
    defaults = {
      names = ["eu-west-1c", "eu-west-1a", "eu-west-1b", "eu-west-1d"]
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

variables {
  name       = "hstack-test"
  cidr_block = "10.20.0.0/16"
}

run "three_azs_and_three_tiers" {
  command = apply

  assert {
    condition     = output.availability_zones == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"])
    error_message = "The network spans the first three AZs of the region, in order."
  }
  assert {
    condition     = length(distinct([for s in aws_subnet.public : s.availability_zone])) == 3 && length(distinct([for s in aws_subnet.app : s.availability_zone])) == 3 && length(distinct([for s in aws_subnet.database : s.availability_zone])) == 3
    error_message = "Each tier has one subnet in each of the three AZs."
  }
  assert {
    condition     = [for s in aws_subnet.public : s.cidr_block] == ["10.20.0.0/20", "10.20.16.0/20", "10.20.32.0/20"] && [for s in aws_subnet.app : s.cidr_block] == ["10.20.64.0/20", "10.20.80.0/20", "10.20.96.0/20"] && [for s in aws_subnet.database : s.cidr_block] == ["10.20.128.0/20", "10.20.144.0/20", "10.20.160.0/20"]
    error_message = "Subnets are 1/16 of the VPC each: public 0-2, app 4-6, database 8-10."
  }
  assert {
    condition     = alltrue([for s in concat(aws_subnet.public, aws_subnet.app, aws_subnet.database) : s.map_public_ip_on_launch != true])
    error_message = "No subnet hands out public addresses."
  }
  assert {
    condition     = length(output.public_subnet_ids) == 3 && length(output.app_subnet_ids) == 3 && length(output.database_subnet_ids) == 3
    error_message = "Three subnet ids per tier are output."
  }
}

run "nat_per_az_and_isolated_database" {
  command = apply

  assert {
    condition     = length(aws_nat_gateway.this) == 3 && length(distinct([for n in aws_nat_gateway.this : n.subnet_id])) == 3
    error_message = "One NAT gateway per AZ, each in its AZ's public subnet."
  }
  assert {
    condition     = [for r in aws_route.app_nat : r.nat_gateway_id] == [for n in aws_nat_gateway.this : n.id]
    error_message = "Each AZ's app subnets leave through their own AZ's NAT gateway."
  }
  assert {
    condition     = length(aws_route_table.database.route) == 0 && alltrue([for a in aws_route_table_association.database : a.route_table_id == aws_route_table.database.id])
    error_message = "The database subnets have no route out of the VPC."
  }
  assert {
    condition     = length(aws_default_security_group.this.ingress) == 0 && length(aws_default_security_group.this.egress) == 0
    error_message = "The default security group denies everything."
  }
}

run "flow_logs_all_traffic_encrypted" {
  command = apply

  assert {
    condition     = aws_flow_log.this.traffic_type == "ALL" && aws_flow_log.this.log_destination == aws_cloudwatch_log_group.flow_logs.arn
    error_message = "VPC flow logs record all traffic to the log group."
  }
  assert {
    condition     = aws_cloudwatch_log_group.flow_logs.kms_key_id == aws_kms_key.logs.arn && aws_kms_key.logs.enable_key_rotation
    error_message = "Flow logs are encrypted with a rotated KMS key."
  }
}

run "single_nat_gateway_for_dev" {
  command = apply

  variables {
    single_nat_gateway = true
  }

  assert {
    condition     = length(aws_nat_gateway.this) == 1 && length(distinct([for r in aws_route.app_nat : r.nat_gateway_id])) == 1
    error_message = "single_nat_gateway: one NAT gateway carries all three AZs."
  }
}

run "rejects_a_cidr_wider_than_16" {
  command = plan

  variables {
    cidr_block = "10.0.0.0/8"
  }

  expect_failures = [var.cidr_block]
}

run "rejects_a_cidr_narrower_than_20" {
  command = plan

  variables {
    cidr_block = "10.20.0.0/24"
  }

  expect_failures = [var.cidr_block]
}

run "rejects_a_non_cidr" {
  command = plan

  variables {
    cidr_block = "10.20.0.0"
  }

  expect_failures = [var.cidr_block]
}

run "rejects_short_log_retention" {
  command = plan

  variables {
    flow_log_retention_days = 3
  }

  expect_failures = [var.flow_log_retention_days]
}
