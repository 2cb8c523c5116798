output "repository_name" {
  description = "Name of the ECR repository (deliver.yml's ecr-repository input)."
  value       = aws_ecr_repository.this.name
}

output "repository_url" {
  description = "URL of the ECR repository, the image name without its tag."
  value       = aws_ecr_repository.this.repository_url
}

output "role_arn" {
  description = "ARN of the role deliver.yml assumes through OIDC (its aws-role-arn input)."
  value       = aws_iam_role.deliver.arn
}

output "github_oidc_provider_arn" {
  description = "ARN of the GitHub OIDC provider the role trusts, for the account's other environments."
  value       = local.oidc_provider_arn
}
