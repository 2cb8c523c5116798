# One role and instance profile per fleet, each with only what it needs:
# SSM Session Manager for operator access (there is no SSH ingress and no
# bastion), the read-only EC2/ASG describe calls cloud auto-join makes, and
# for Vault the KMS operations of auto-unseal on its one key.

locals {
  roles = {
    server = "Nomad and Consul servers"
    client = "Nomad clients"
    vault  = "Vault servers"
  }
}

resource "aws_iam_role" "this" {
  for_each    = local.roles
  name        = "${var.name}-${each.key}"
  description = "${each.value} of ${var.name}"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
  tags = var.tags
}

resource "aws_iam_role_policy_attachment" "ssm" {
  for_each   = local.roles
  role       = aws_iam_role.this[each.key].name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

# Cloud auto-join ("provider=aws tag_key=... tag_value=...") lists instances
# by tag. These Describe calls have no resource-level permissions, so "*" is
# the narrowest resource AWS accepts.
resource "aws_iam_role_policy" "auto_join" {
  for_each = local.roles
  name     = "cloud-auto-join"
  role     = aws_iam_role.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["ec2:DescribeInstances", "ec2:DescribeTags", "autoscaling:DescribeAutoScalingGroups"]
      Resource = "*"
    }]
  })
}

resource "aws_iam_role_policy" "vault_unseal" {
  name = "vault-awskms-unseal"
  role = aws_iam_role.this["vault"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["kms:Encrypt", "kms:Decrypt", "kms:DescribeKey"]
      Resource = var.vault_kms_key_arn
    }]
  })
}

resource "aws_iam_instance_profile" "this" {
  for_each = local.roles
  name     = "${var.name}-${each.key}"
  role     = aws_iam_role.this[each.key].name
  tags     = var.tags
}

# The periodic hstack-snapshot job runs on the clients and writes its sets
# to the snapshot bucket: put (and list, to report what is there) under
# that bucket only, and the data keys of its KMS key. It may not delete:
# expiry is the bucket's lifecycle rule, so a compromised client cannot
# erase the backups.
resource "aws_iam_role_policy" "snapshot_writer" {
  name = "hstack-snapshot-writer"
  role = aws_iam_role.this["client"].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "PutSnapshots"
        Effect   = "Allow"
        Action   = ["s3:PutObject", "s3:AbortMultipartUpload"]
        Resource = "${var.snapshot_bucket_arn}/*"
      },
      {
        Sid      = "ListSnapshots"
        Effect   = "Allow"
        Action   = "s3:ListBucket"
        Resource = var.snapshot_bucket_arn
      },
      {
        Sid      = "EncryptSnapshots"
        Effect   = "Allow"
        Action   = ["kms:GenerateDataKey", "kms:Decrypt"]
        Resource = var.snapshot_kms_key_arn
      },
    ]
  })
}
