output "vpc_id" {
  description = "ID of the VPC."
  value       = module.network.vpc_id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = module.network.vpc_cidr_block
}

output "availability_zones" {
  description = "The three availability zones."
  value       = module.network.availability_zones
}

output "public_subnet_ids" {
  description = "Public subnets, one per AZ."
  value       = module.network.public_subnet_ids
}

output "app_subnet_ids" {
  description = "Private-app subnets, one per AZ."
  value       = module.network.app_subnet_ids
}

output "database_subnet_ids" {
  description = "Isolated database subnets, one per AZ."
  value       = module.network.database_subnet_ids
}
