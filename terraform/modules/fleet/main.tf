# A fleet of identical instances: security group, launch template and
# autoscaling group. servers, vault and clients are each one fleet plus what
# is particular to them, so every instance hstack runs gets the same
# guarantees from this one file: IMDSv2 only, an encrypted root volume, no
# public address, no SSH (access is through SSM Session Manager), and a
# rolling instance refresh whenever the launch template changes (a new AMI).

locals {
  mixed = length(var.instance_types) > 1
  tags  = merge(var.tags, var.cluster_tag, { Role = var.role })
  # The one lifecycle hook, named in the user data for the watch.
  termination_hook = "drain"
  instance_config = merge(
    { role = var.role, cluster_tag = var.cluster_tag },
    # What the termination watch (scripts/provision/termination-watch.sh)
    # needs to complete the hook once the node is drained.
    var.termination_hook_timeout > 0 ? { asg_name = var.name, lifecycle_hook = local.termination_hook } : {},
    # What boot.sh (scripts/provision) fetches from Secrets Manager before it
    # configures and starts the agents: secret names only, never values.
    { aws_region = data.aws_region.current.region },
    { for k, v in var.boot_secrets : "secret_${k}" => v },
    var.instance_config,
  )
}

data "aws_region" "current" {}

resource "aws_security_group" "this" {
  name        = var.name
  description = "${var.role} fleet ${var.name}"
  vpc_id      = var.vpc_id
  tags        = merge(local.tags, { Name = var.name })

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_egress_rule" "vpc" {
  security_group_id = aws_security_group.this.id
  description       = "Anything inside the VPC (agents, Vault, Aurora, load balancers)"
  ip_protocol       = "-1"
  cidr_ipv4         = var.vpc_cidr_block
  tags              = local.tags
}

resource "aws_vpc_security_group_egress_rule" "internet" {
  for_each          = toset(["80", "443"])
  security_group_id = aws_security_group.this.id
  description       = "Out through the NAT gateways: AWS APIs, OS security updates, container registries"
  ip_protocol       = "tcp"
  from_port         = tonumber(each.key)
  to_port           = tonumber(each.key)
  # trivy:ignore:AVD-AWS-0104 Instances sit in private subnets and leave the VPC only through the NAT gateways, and only on 80/443: the AWS APIs auto-join, SSM and KMS call (no VPC endpoints, a cost choice), unattended security upgrades and public container registries have no fixed addresses.
  cidr_ipv4 = "0.0.0.0/0"
  tags      = local.tags
}

resource "aws_launch_template" "this" {
  name_prefix            = "${var.name}-"
  description            = "${var.role} instances of ${var.name}"
  image_id               = var.ami_id
  instance_type          = var.instance_types[0]
  vpc_security_group_ids = [aws_security_group.this.id]
  user_data = base64encode(templatefile("${path.module}/user-data.sh.tftpl", {
    config = jsonencode(local.instance_config)
  }))
  update_default_version = true

  iam_instance_profile {
    name = var.instance_profile_name
  }

  # IMDSv2 only; one hop, so containers on the host cannot reach the
  # instance's credentials; instance tags readable for the agents' config.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = "enabled"
  }

  block_device_mappings {
    device_name = var.root_device_name

    ebs {
      volume_size           = var.root_volume_size
      volume_type           = "gp3"
      encrypted             = true
      kms_key_id            = var.ebs_kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = true
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(local.tags, { Name = var.name })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(local.tags, { Name = var.name })
  }

  tags = local.tags
}

resource "aws_autoscaling_group" "this" {
  name                      = var.name
  vpc_zone_identifier       = var.subnet_ids
  min_size                  = var.min_size
  max_size                  = var.max_size
  desired_capacity          = var.desired_capacity
  health_check_type         = var.health_check_type
  health_check_grace_period = 300
  target_group_arns         = concat(var.target_group_arns, [for tg in aws_lb_target_group.this : tg.arn])

  dynamic "launch_template" {
    for_each = local.mixed ? [] : [1]
    content {
      id      = aws_launch_template.this.id
      version = aws_launch_template.this.latest_version
    }
  }

  dynamic "mixed_instances_policy" {
    for_each = local.mixed ? [1] : []
    content {
      instances_distribution {
        on_demand_base_capacity                  = var.on_demand_base_capacity
        on_demand_percentage_above_base_capacity = var.on_demand_percentage_above_base
        spot_allocation_strategy                 = "price-capacity-optimized"
      }

      launch_template {
        launch_template_specification {
          launch_template_id = aws_launch_template.this.id
          version            = aws_launch_template.this.latest_version
        }

        dynamic "override" {
          for_each = var.instance_types
          content {
            instance_type = override.value
          }
        }
      }
    }
  }

  # A terminating instance waits (Terminating:Wait) until its termination
  # watch has drained the node and completed the hook, or the timeout ends
  # the wait; either way it is then terminated (CONTINUE).
  dynamic "initial_lifecycle_hook" {
    for_each = var.termination_hook_timeout > 0 ? [1] : []
    content {
      name                 = local.termination_hook
      lifecycle_transition = "autoscaling:EC2_INSTANCE_TERMINATING"
      heartbeat_timeout    = var.termination_hook_timeout
      default_result       = "CONTINUE"
    }
  }

  # A new launch template version (a new AMI from `hstack image build`)
  # replaces the instances a batch at a time, keeping min_healthy_percentage
  # of the fleet in service.
  instance_refresh {
    strategy = "Rolling"
    preferences {
      min_healthy_percentage = var.min_healthy_percentage
    }
  }

  dynamic "tag" {
    for_each = merge(local.tags, { Name = var.name })
    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }

  lifecycle {
    # The Nomad autoscaler owns the desired count once the fleet runs.
    ignore_changes = [desired_capacity]
  }
}
