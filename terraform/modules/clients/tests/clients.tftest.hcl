mock_provider "aws" {
  source = "../../mocks"

  mock_resource "aws_autoscaling_group" {
    defaults = {
      arn = "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/hstack-test-client"
    }
  }
}

variables {
  name                     = "hstack-test"
  vpc_id                   = "vpc-0123456789abcdef0"
  vpc_cidr_block           = "10.20.0.0/16"
  subnet_ids               = ["subnet-0000000000000000a", "subnet-0000000000000000b", "subnet-0000000000000000c"]
  ami_id                   = "ami-0fedcba9876543210"
  instance_profile_name    = "hstack-test-client"
  role_name                = "hstack-test-client"
  server_security_group_id = "sg-000000000000005e1"
  alb_security_group_id    = "sg-00000000000000a1b"
  target_group_arns        = ["arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/hstack-test-ingress/0123456789abcdef"]
  retry_join               = "provider=aws tag_key=hstack-cluster tag_value=hstack-test"
}

run "autoscaler_bounds_and_mixed_fleet" {
  command = apply

  assert {
    condition     = output.min_size == 2 && output.max_size == 10
    error_message = "The scaling bounds are output for the Nomad autoscaler."
  }
  assert {
    condition     = output.asg_name == "hstack-test-client"
    error_message = "The client ASG is named for the autoscaler."
  }
  assert {
    condition     = output.ami_id == var.ami_id
    error_message = "The clients boot the client AMI."
  }
}

run "ingress_from_the_alb_only_on_the_ingress_port" {
  command = apply

  assert {
    condition     = aws_vpc_security_group_ingress_rule.this["ingress-from-alb"].referenced_security_group_id == var.alb_security_group_id && aws_vpc_security_group_ingress_rule.this["ingress-from-alb"].from_port == 8080
    error_message = "The ALB reaches the clients on the ingress port."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.this : r.cidr_ipv4 == null && r.referenced_security_group_id != null])
    error_message = "Clients admit security groups only, no address range (nothing from 0.0.0.0/0)."
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.this : r.ip_protocol != "-1" && !(r.from_port <= 22 && r.to_port >= 22)])
    error_message = "No rule opens port 22."
  }
}

run "rejects_a_privileged_ingress_port" {
  command = plan

  variables {
    ingress_port = 80
  }

  expect_failures = [var.ingress_port]
}

run "rejects_desired_above_max" {
  command = plan

  variables {
    max_size         = 2
    desired_capacity = 3
  }

  expect_failures = [var.desired_capacity]
}

run "autoscaler_may_resize_only_this_group" {
  command = apply

  assert {
    condition     = aws_iam_role_policy.autoscaler.role == "hstack-test-client"
    error_message = "The policy is on the clients' role, where the autoscaler runs."
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.autoscaler.policy).Statement :
    s.Resource == "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/hstack-test-client" || alltrue([for a in s.Action : startswith(a, "autoscaling:Describe")])])
    error_message = "Every change is limited to the client group; only Describe calls, which have no resource-level permissions, are on \"*\"."
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.autoscaler.policy).Statement : s.Action])) == toset([
      "autoscaling:UpdateAutoScalingGroup", "autoscaling:CreateOrUpdateTags", "autoscaling:TerminateInstanceInAutoScalingGroup",
    "autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeScalingActivities", "autoscaling:DescribeInstanceRefreshes"])
    error_message = "Exactly the calls the aws-asg target plugin makes."
  }
}

run "terminating_clients_drain_first" {
  command = apply

  assert {
    condition = length(module.fleet.lifecycle_hooks) == 1 && alltrue([for h in module.fleet.lifecycle_hooks :
    h.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" && h.default_result == "CONTINUE" && h.heartbeat_timeout == 420])
    error_message = "A terminating client waits (up to the 5 minute drain and 2 minutes more) for its termination watch, then terminates either way."
  }
  assert {
    condition     = module.fleet.instance_config.asg_name == "hstack-test-client" && module.fleet.instance_config.lifecycle_hook == one(module.fleet.lifecycle_hooks).name
    error_message = "The user data names the group and the hook the watch completes."
  }
  assert {
    condition = [for s in jsondecode(aws_iam_role_policy.termination_watch.policy).Statement : [s.Action, s.Resource]] == [[["autoscaling:CompleteLifecycleAction"],
    "arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:11111111-2222-3333-4444-555555555555:autoScalingGroupName/hstack-test-client"]]
    error_message = "The clients may complete lifecycle actions of their own group only, and do nothing else through this policy."
  }
}

run "rejects_a_drain_longer_than_an_hour" {
  command = plan

  variables {
    drain_deadline_seconds = 7200
  }
  expect_failures = [var.drain_deadline_seconds]
}
