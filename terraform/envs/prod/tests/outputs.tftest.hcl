# The outputs root: what hstack reads from terraform/envs/prod.

variables {
  vpc_id                        = "vpc-0123456789abcdef0"
  nomad_addr                    = "https://nomad.internal:4646"
  consul_addr                   = "https://consul.internal:8501"
  vault_addr                    = "https://vault.internal:8200"
  alb_dns_name                  = "hstack-prod-123.eu-west-1.elb.amazonaws.com"
  app_url                       = "https://app.example.com"
  server_ami_id                 = "ami-00000000000005e12"
  client_ami_id                 = "ami-0000000000000c11e"
  client_asg_name               = "hstack-prod-client"
  client_asg_min_size           = 3
  client_asg_max_size           = 20
  aurora_writer_endpoint        = "w.example"
  aurora_reader_endpoint        = "r.example"
  aurora_port                   = 5432
  aurora_master_user_secret_arn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:rds!cluster-0123"
  aurora_cluster_id             = "hstack-prod-aurora"
  aws_region                    = "eu-west-1"
  snapshot_bucket               = "hstack-prod-snapshots-123456789012"
  ecr_repository_name           = "hstack-prod/pingapp"
  ecr_repository_url            = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/hstack-prod/pingapp"
  deliver_role_arn              = "arn:aws:iam::123456789012:role/hstack-prod-deliver"
}

run "stable_outputs" {
  command = apply

  assert {
    condition     = output.aurora_writer_endpoint == "w.example" && output.aurora_reader_endpoint == "r.example" && output.aurora_port == 5432
    error_message = "The database outputs hstack.hcl names are passed through."
  }
  assert {
    condition     = output.client_asg_min_size == 3 && output.client_asg_max_size == 20 && output.client_asg_name == "hstack-prod-client"
    error_message = "The autoscaler's bounds are passed through."
  }
  assert {
    condition     = output.nomad_addr == var.nomad_addr && output.consul_addr == var.consul_addr && output.vault_addr == var.vault_addr && output.alb_dns_name == var.alb_dns_name
    error_message = "The cluster addresses are passed through."
  }
  assert {
    condition     = output.snapshot_bucket == var.snapshot_bucket && output.aws_region == var.aws_region && output.aurora_cluster_id == var.aurora_cluster_id
    error_message = "The day-2 outputs hstack reads (snapshot job, aws-asg policy, db snapshot) are passed through."
  }
  assert {
    condition     = output.ecr_repository_name == var.ecr_repository_name && output.ecr_repository_url == var.ecr_repository_url && output.deliver_role_arn == var.deliver_role_arn
    error_message = "deliver.yml's inputs are passed through."
  }
}
