# Environment dev: the outputs hstack reads, under stable names, in one
# place. This root has no resources: `hstack infra apply --env dev` applies
# it last, with the network, cluster and database layers' outputs as its
# variables, so `terraform output` here (and hstack.hcl's
# from_terraform_output, dir = "terraform/envs/dev") sees the whole
# environment while each layer keeps a state of its own.

terraform {
  required_version = ">= 1.7"

  backend "s3" {
    key = "dev/outputs.tfstate"
  }
}
