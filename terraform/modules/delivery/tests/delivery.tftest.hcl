mock_provider "aws" {
  source = "../../mocks"

  mock_resource "aws_ecr_repository" {
    defaults = {
      arn            = "arn:aws:ecr:eu-west-1:123456789012:repository/shop/pingapp"
      repository_url = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/shop/pingapp"
    }
  }

  mock_resource "aws_iam_openid_connect_provider" {
    defaults = {
      arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    }
  }
}

variables {
  name                = "hstack-test"
  repository_name     = "shop/pingapp"
  github_repositories = ["shop/pingapp"]
}

run "repository_scanned_immutable_encrypted" {
  command = apply

  assert {
    condition     = aws_ecr_repository.this.image_scanning_configuration[0].scan_on_push
    error_message = "Every pushed image is scanned."
  }
  assert {
    condition     = aws_ecr_repository.this.image_tag_mutability == "IMMUTABLE"
    error_message = "Tags are immutable."
  }
  assert {
    condition     = aws_ecr_repository.this.encryption_configuration[0].encryption_type == "KMS" && aws_ecr_repository.this.encryption_configuration[0].kms_key == aws_kms_key.this.arn && aws_kms_key.this.enable_key_rotation
    error_message = "Images are encrypted with the repository's own rotating KMS key."
  }
  assert {
    condition     = output.repository_name == "shop/pingapp"
    error_message = "The repository name is deliver.yml's ecr-repository input."
  }
}

run "role_trusts_only_the_repositories_branches" {
  command = apply

  variables {
    github_repositories = ["shop/pingapp", "shop/web"]
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 1 && aws_iam_openid_connect_provider.github[0].url == "https://token.actions.githubusercontent.com" && toset(aws_iam_openid_connect_provider.github[0].client_id_list) == toset(["sts.amazonaws.com"])
    error_message = "The GitHub OIDC provider is created for STS."
  }
  assert {
    condition     = jsondecode(aws_iam_role.deliver.assume_role_policy).Statement[0].Action == "sts:AssumeRoleWithWebIdentity" && jsondecode(aws_iam_role.deliver.assume_role_policy).Statement[0].Principal.Federated == aws_iam_openid_connect_provider.github[0].arn
    error_message = "Only GitHub's OIDC tokens assume the role."
  }
  assert {
    condition     = toset(jsondecode(aws_iam_role.deliver.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:sub"]) == toset(["repo:shop/pingapp:ref:refs/heads/main", "repo:shop/web:ref:refs/heads/main"])
    error_message = "Only runs on the main branch of the listed repositories, by exact subject."
  }
  assert {
    condition     = jsondecode(aws_iam_role.deliver.assume_role_policy).Statement[0].Condition.StringEquals["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    error_message = "The token's audience is STS."
  }
  assert {
    condition     = output.role_arn == aws_iam_role.deliver.arn
    error_message = "The role ARN is deliver.yml's aws-role-arn input."
  }
}

run "role_may_only_push_to_the_repository" {
  command = apply

  assert {
    condition = alltrue([for s in jsondecode(aws_iam_role_policy.push.policy).Statement :
    s.Effect == "Allow" && (s.Resource == aws_ecr_repository.this.arn || (s.Resource == "*" && s.Action == "ecr:GetAuthorizationToken"))])
    error_message = "Every statement is scoped to the repository, but the registry login, which AWS only grants on \"*\"."
  }
  assert {
    condition = toset(flatten([for s in jsondecode(aws_iam_role_policy.push.policy).Statement : s.Action])) == toset([
      "ecr:GetAuthorizationToken", "ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload", "ecr:PutImage", "ecr:UploadLayerPart"])
    error_message = "The role may log in and push layers and images, nothing else (no delete, no policy, no other repository)."
  }
}

run "existing_oidc_provider_is_reused" {
  command = apply

  variables {
    github_oidc_provider_arn = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
  }

  assert {
    condition     = length(aws_iam_openid_connect_provider.github) == 0 && jsondecode(aws_iam_role.deliver.assume_role_policy).Statement[0].Principal.Federated == var.github_oidc_provider_arn
    error_message = "A second environment trusts the account's provider instead of creating one."
  }
}

run "wildcard_repositories_are_refused" {
  command = plan

  variables {
    github_repositories = ["shop/*"]
  }

  expect_failures = [var.github_repositories]
}
