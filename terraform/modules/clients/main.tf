# The Nomad client fleet: a mixed-instance ASG from the client AMI whose
# bounds the Nomad autoscaler works within, registered in the ALB's target
# group on the ingress port.

locals {
  rules = {
    ingress-from-alb = { sg = var.alb_security_group_id, protocol = "tcp", from = var.ingress_port, to = var.ingress_port }
    nomad-http       = { sg = var.server_security_group_id, protocol = "tcp", from = 4646, to = 4646 }
    consul-lan-tcp   = { sg = var.server_security_group_id, protocol = "tcp", from = 8301, to = 8301 }
    consul-lan-udp   = { sg = var.server_security_group_id, protocol = "udp", from = 8301, to = 8301 }
    # Tasks on different clients talk to each other on Nomad's dynamic
    # ports, and Consul agents gossip with each other.
    self-dynamic    = { sg = module.fleet.security_group_id, protocol = "tcp", from = 20000, to = 32000 }
    self-consul-tcp = { sg = module.fleet.security_group_id, protocol = "tcp", from = 8301, to = 8301 }
    self-consul-udp = { sg = module.fleet.security_group_id, protocol = "udp", from = 8301, to = 8301 }
  }
}

module "fleet" {
  source = "../fleet"

  name                            = "${var.name}-client"
  role                            = "client"
  cluster_tag                     = { hstack-cluster = var.name }
  vpc_id                          = var.vpc_id
  vpc_cidr_block                  = var.vpc_cidr_block
  subnet_ids                      = var.subnet_ids
  ami_id                          = var.ami_id
  instance_types                  = var.instance_types
  on_demand_base_capacity         = 1
  on_demand_percentage_above_base = var.on_demand_percentage_above_base
  min_size                        = var.min_size
  max_size                        = var.max_size
  desired_capacity                = var.desired_capacity
  instance_profile_name           = var.instance_profile_name
  boot_secrets                    = var.boot_secrets
  ebs_kms_key_arn                 = var.ebs_kms_key_arn
  target_group_arns               = var.target_group_arns
  health_check_type               = length(var.target_group_arns) > 0 ? "ELB" : "EC2"
  # The AMI's clients drain for --drain-deadline (5m) when Nomad stops; the
  # hook waits for that, systemd's extra minute and the hook's completion.
  termination_hook_timeout = var.drain_deadline_seconds + 120
  instance_config = {
    retry_join   = var.retry_join
    ingress_port = var.ingress_port
  }
  tags = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "this" {
  for_each                     = local.rules
  security_group_id            = module.fleet.security_group_id
  description                  = each.key
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.sg
  tags                         = var.tags
}

# The Nomad Autoscaler's aws-asg target runs on the clients and resizes this
# group: change its size, tag it and terminate its drained instances, on
# this group only. The Describe calls have no resource-level permissions.
resource "aws_iam_role_policy" "autoscaler" {
  name = "nomad-autoscaler-aws-asg"
  role = var.role_name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid    = "ScaleTheClientGroup"
        Effect = "Allow"
        Action = [
          "autoscaling:UpdateAutoScalingGroup",
          "autoscaling:CreateOrUpdateTags",
          "autoscaling:TerminateInstanceInAutoScalingGroup",
        ]
        Resource = module.fleet.asg_arn
      },
      {
        Sid    = "DescribeGroups"
        Effect = "Allow"
        Action = [
          "autoscaling:DescribeAutoScalingGroups",
          "autoscaling:DescribeScalingActivities",
          "autoscaling:DescribeInstanceRefreshes",
        ]
        Resource = "*"
      },
    ]
  })
}

# The termination watch on each client (scripts/provision/termination-watch.sh)
# ends its instance's Terminating:Wait once the node is drained: the one
# call, on this group only.
resource "aws_iam_role_policy" "termination_watch" {
  name = "hstack-termination-watch"
  role = var.role_name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "CompleteTheDrainHook"
      Effect   = "Allow"
      Action   = ["autoscaling:CompleteLifecycleAction"]
      Resource = module.fleet.asg_arn
    }]
  })
}
