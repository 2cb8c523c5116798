# What an application repository's delivery pipeline
# (.github/workflows/deliver.yml) needs in AWS: the ECR repository its image
# goes to, and a role its image job assumes with GitHub's OIDC token, so no
# long-lived AWS key exists anywhere. The role may push to this one
# repository and do nothing else.

locals {
  oidc_url = "https://token.actions.githubusercontent.com"
  oidc_provider_arn = (var.github_oidc_provider_arn != null ? var.github_oidc_provider_arn :
  aws_iam_openid_connect_provider.github[0].arn)
  # The image job of deliver.yml has no GitHub environment, so its token's
  # subject is the calling repository and branch.
  subjects = sort(flatten([for r in var.github_repositories : [for b in var.github_branches : "repo:${r}:ref:refs/heads/${b}"]]))
}

resource "aws_kms_key" "this" {
  description         = "${var.name} ECR repository ${var.repository_name}"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}-ecr-${replace(var.repository_name, "/", "-")}"
  target_key_id = aws_kms_key.this.key_id
}

resource "aws_ecr_repository" "this" {
  name = var.repository_name
  # A tag names one image forever: a release can be told apart from the
  # one it replaced, and a rollback brings back the same bytes.
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.this.arn
  }

  tags = var.tags
}

# One provider per account and URL: an account with several environments
# creates it in one and passes its ARN to the others.
resource "aws_iam_openid_connect_provider" "github" {
  count          = var.github_oidc_provider_arn == null ? 1 : 0
  url            = local.oidc_url
  client_id_list = ["sts.amazonaws.com"]
  tags           = var.tags
}

resource "aws_iam_role" "deliver" {
  name                 = "${var.name}-deliver"
  description          = "deliver.yml's image job: push to ECR ${var.repository_name}"
  max_session_duration = 3600
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Federated = local.oidc_provider_arn }
      Action    = "sts:AssumeRoleWithWebIdentity"
      Condition = {
        StringEquals = {
          "token.actions.githubusercontent.com:aud" = "sts.amazonaws.com"
          "token.actions.githubusercontent.com:sub" = local.subjects
        }
      }
    }]
  })
  tags = var.tags
}

# ecr:GetAuthorizationToken has no resource-level permissions ("*" is the
# only resource AWS accepts); it only returns a registry login, and every
# push call is limited to the one repository.
resource "aws_iam_role_policy" "push" {
  name = "ecr-push-${replace(var.repository_name, "/", "-")}"
  role = aws_iam_role.deliver.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "Login"
        Effect   = "Allow"
        Action   = "ecr:GetAuthorizationToken"
        Resource = "*"
      },
      {
        Sid    = "PushToTheRepository"
        Effect = "Allow"
        Action = [
          "ecr:BatchCheckLayerAvailability",
          "ecr:BatchGetImage",
          "ecr:CompleteLayerUpload",
          "ecr:InitiateLayerUpload",
          "ecr:PutImage",
          "ecr:UploadLayerPart",
        ]
        Resource = aws_ecr_repository.this.arn
      },
    ]
  })
}
