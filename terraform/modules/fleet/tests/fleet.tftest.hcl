# Every instance hstack runs comes from this module: IMDSv2 only, encrypted
# root volumes, no SSH, no public API, rolling refresh on a new AMI.

mock_provider "aws" {
  source = "../../mocks"
}

variables {
  name                  = "hstack-test-server"
  role                  = "server"
  cluster_tag           = { hstack-cluster = "hstack-test" }
  vpc_id                = "vpc-0123456789abcdef0"
  vpc_cidr_block        = "10.20.0.0/16"
  subnet_ids            = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  ami_id                = "ami-0123456789abcdef0"
  instance_types        = ["t3.medium"]
  min_size              = 3
  max_size              = 3
  desired_capacity      = 3
  instance_profile_name = "hstack-test-server"
  internal_lb_ports     = [4646, 8501]
  instance_config       = { bootstrap_expect = 3 }
}

run "launch_template_requires_imdsv2_and_encrypts" {
  command = apply

  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_tokens == "required"
    error_message = "The launch template must require IMDSv2 tokens."
  }
  assert {
    condition     = aws_launch_template.this.metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDS must be one hop away: containers must not reach the instance role."
  }
  assert {
    condition     = length(aws_launch_template.this.block_device_mappings) > 0 && alltrue([for b in aws_launch_template.this.block_device_mappings : alltrue([for e in b.ebs : tostring(e.encrypted) == "true"])])
    error_message = "Every volume of the launch template must be encrypted."
  }
  assert {
    condition     = length(aws_launch_template.this.network_interfaces) == 0
    error_message = "No network interface with a public address: instances get only private ones."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this.user_data), "\"bootstrap_expect\":3") && strcontains(base64decode(aws_launch_template.this.user_data), "\"role\":\"server\"")
    error_message = "The user data carries the role and the instance config."
  }
}

run "asg_refreshes_rolling_and_tags_for_auto_join" {
  command = apply

  assert {
    condition     = aws_autoscaling_group.this.instance_refresh[0].strategy == "Rolling"
    error_message = "A new launch template version must replace the instances in a rolling refresh."
  }
  assert {
    condition     = length([for t in aws_autoscaling_group.this.tag : t if t.key == "hstack-cluster" && t.value == "hstack-test" && t.propagate_at_launch]) == 1
    error_message = "Instances must carry the auto-join tag."
  }
  assert {
    condition     = length(aws_autoscaling_group.this.launch_template) == 1 && length(aws_autoscaling_group.this.mixed_instances_policy) == 0
    error_message = "One instance type: a plain launch template, no mixed policy."
  }
  assert {
    condition     = length(aws_lb_target_group.this) == 2 && alltrue([for tg in aws_lb_target_group.this : contains(aws_autoscaling_group.this.target_group_arns, tg.arn)])
    error_message = "The ASG registers in the internal load balancer's two target groups."
  }
}

run "no_ssh_and_no_public_ingress" {
  command = apply

  assert {
    condition     = alltrue([for r in concat(values(aws_vpc_security_group_ingress_rule.lb), values(aws_vpc_security_group_ingress_rule.from_lb)) : r.ip_protocol != "-1" && !(r.from_port <= 22 && r.to_port >= 22)])
    error_message = "No ingress rule may open port 22 (access is through SSM Session Manager)."
  }
  assert {
    condition     = alltrue([for r in values(aws_vpc_security_group_ingress_rule.lb) : r.cidr_ipv4 == "10.20.0.0/16"])
    error_message = "The internal load balancer admits only the VPC by default."
  }
  assert {
    condition     = aws_lb.this[0].internal && aws_lb.this[0].load_balancer_type == "network"
    error_message = "The API load balancer must be internal."
  }
  assert {
    condition     = alltrue([for r in values(aws_vpc_security_group_egress_rule.internet) : contains([80, 443], r.from_port) && r.from_port == r.to_port])
    error_message = "Egress out of the VPC is only HTTP(S)."
  }
}

run "mixed_instance_types" {
  command = apply

  variables {
    role              = "client"
    instance_types    = ["t3.large", "t3a.large", "m5.large"]
    internal_lb_ports = []
  }

  assert {
    condition     = length(aws_autoscaling_group.this.mixed_instances_policy) == 1 && length(aws_autoscaling_group.this.launch_template) == 0
    error_message = "Several instance types: a mixed instances policy."
  }
  assert {
    condition     = length(aws_autoscaling_group.this.mixed_instances_policy[0].launch_template[0].override) == 3
    error_message = "Every instance type is an override."
  }
  assert {
    condition     = length(aws_lb.this) == 0 && output.internal_lb_dns_name == null
    error_message = "No internal load balancer without internal_lb_ports."
  }
}

run "rejects_public_api" {
  command = plan

  variables {
    internal_lb_allowed_cidr_blocks = ["0.0.0.0/0"]
  }

  expect_failures = [var.internal_lb_allowed_cidr_blocks]
}

run "rejects_a_bad_ami_id" {
  command = plan

  variables {
    ami_id = "my-image"
  }

  expect_failures = [var.ami_id]
}

run "rejects_desired_outside_bounds" {
  command = plan

  variables {
    desired_capacity = 4
  }

  expect_failures = [var.desired_capacity]
}

run "no_termination_hook_unless_asked" {
  command = apply

  assert {
    condition     = length(aws_autoscaling_group.this.initial_lifecycle_hook) == 0
    error_message = "A server fleet terminates without a lifecycle hook (Raft membership is autopilot's job)."
  }
  assert {
    condition     = !contains(keys(output.instance_config), "lifecycle_hook") && output.instance_config.bootstrap_expect == 3
    error_message = "Without a hook, the user data names none."
  }
}

run "termination_hook_waits_then_continues" {
  command = apply

  variables {
    termination_hook_timeout = 420
  }
  assert {
    condition = [for h in aws_autoscaling_group.this.initial_lifecycle_hook : [h.name, h.lifecycle_transition, h.heartbeat_timeout, h.default_result]] == [
    ["drain", "autoscaling:EC2_INSTANCE_TERMINATING", 420, "CONTINUE"]]
    error_message = "One termination hook: the instance waits up to the timeout, then terminates either way."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this.user_data), "\"asg_name\":\"hstack-test-server\"") && strcontains(base64decode(aws_launch_template.this.user_data), "\"lifecycle_hook\":\"drain\"")
    error_message = "The user data's cluster.json names the group and the hook, as termination-watch.sh reads them (compact JSON)."
  }
}

run "rejects_a_too_short_hook" {
  command = plan

  variables {
    termination_hook_timeout = 10
  }
  expect_failures = [var.termination_hook_timeout]
}

# The user data writes cluster.json with the boot secrets' names (never
# values) and the region, then runs boot.sh, which fetches them and starts
# the agents.
run "user_data_names_the_boot_secrets_and_runs_boot" {
  command = apply

  variables {
    boot_secrets = { ca = "hstack-test/boot/ca", consul_gossip = "hstack-test/boot/consul-gossip", consul_tls = "hstack-test/boot/server-consul" }
  }

  assert {
    condition     = output.instance_config.secret_ca == "hstack-test/boot/ca" && output.instance_config.secret_consul_tls == "hstack-test/boot/server-consul" && output.instance_config.aws_region == "eu-west-1"
    error_message = "cluster.json names each boot secret as secret_<kind>, and the region."
  }
  assert {
    condition     = strcontains(base64decode(aws_launch_template.this.user_data), "\"secret_consul_gossip\":\"hstack-test/boot/consul-gossip\"") && endswith(trimspace(base64decode(aws_launch_template.this.user_data)), "exec /opt/hstack/provision/boot.sh")
    error_message = "The user data writes the secret names into cluster.json and then runs boot.sh."
  }
}
