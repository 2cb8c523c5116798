# A stand-in for the network layer with Terraform's built-in resources only.
terraform {
  backend "local" {}
}

resource "terraform_data" "vpc" {
  input = "vpc-e2e"
}

output "vpc_id" {
  description = "ID of the (pretend) VPC."
  value       = terraform_data.vpc.output
}
