output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The three availability zones, in the order of the subnet lists."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnets (ALB, NAT gateways), one per AZ."
  value       = aws_subnet.public[*].id
}

output "app_subnet_ids" {
  description = "Private-app subnets (Nomad, Consul and Vault instances), one per AZ."
  value       = aws_subnet.app[*].id
}

output "database_subnet_ids" {
  description = "Isolated database subnets (Aurora), one per AZ, with no route out of the VPC."
  value       = aws_subnet.database[*].id
}

output "nat_gateway_count" {
  description = "How many NAT gateways carry the private-app subnets' egress (1 or 3)."
  value       = length(aws_nat_gateway.this)
}
