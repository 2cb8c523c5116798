mock_provider "aws" {
  source = "../../mocks"
}

variables {
  name                     = "hstack-test"
  vpc_id                   = "vpc-0123456789abcdef0"
  vpc_cidr_block           = "10.20.0.0/16"
  subnet_ids               = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  ami_id                   = "ami-0123456789abcdef0"
  instance_profile_name    = "hstack-test-server"
  client_security_group_id = "sg-0000000000000c11e"
  vault_security_group_id  = "sg-00000000000000a17"
}

run "three_servers_joined_by_tag" {
  command = apply

  assert {
    condition     = output.server_count == 3 && module.fleet.min_size == 3
    error_message = "Three servers by default, a fixed-size group."
  }
  assert {
    condition     = output.retry_join == "provider=aws tag_key=hstack-cluster tag_value=hstack-test"
    error_message = "Agents join the servers by their EC2 tag."
  }
  assert {
    condition     = can(regex("^https://[^:/]+:4646$", output.nomad_addr)) && can(regex("^https://[^:/]+:8501$", output.consul_addr))
    error_message = "nomad_addr and consul_addr are https URLs with the API ports."
  }
  assert {
    condition     = output.ami_id == var.ami_id
    error_message = "The servers boot the given AMI."
  }
}

run "ingress_only_from_peers_never_ssh" {
  command = apply

  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.peers : r.referenced_security_group_id != null && r.cidr_ipv4 == null])
    error_message = "Servers admit only security groups (themselves, clients, Vault), never address ranges."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.peers : r.ip_protocol != "-1" && !(r.from_port <= 22 && r.to_port >= 22)])
    error_message = "No rule opens port 22."
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.peers : r.referenced_security_group_id]) == toset([module.fleet.security_group_id, var.client_security_group_id, var.vault_security_group_id])
    error_message = "The peers are the servers, the clients and Vault."
  }
}

run "five_servers" {
  command = plan

  variables {
    server_count = 5
  }

  assert {
    condition     = module.fleet.max_size == 5
    error_message = "server_count 5 makes a group of five."
  }
}

run "rejects_an_even_server_count" {
  command = plan

  variables {
    server_count = 4
  }

  expect_failures = [var.server_count]
}

run "rejects_seven_servers" {
  command = plan

  variables {
    server_count = 7
  }

  expect_failures = [var.server_count]
}
