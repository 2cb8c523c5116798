# What an instance needs at boot to start its agents securely (the TLS
# certificates and the gossip keys), in Secrets Manager, encrypted with a
# key of the environment's own. Terraform creates only the secrets' shells:
# no aws_secretsmanager_secret_version, so no secret value ever enters the
# state. The operator issues the material and uploads it
# (`aws secretsmanager put-secret-value`, docs/runbooks.md) before the
# first boot; an instance's boot.sh (scripts/provision) reads its role's
# secrets and leaves the agents disabled when one is missing.

locals {
  # The secrets, by kind. A *_tls secret holds a certificate and its key,
  # both PEM, in one string; boot.sh splits them.
  boot_secrets = {
    ca            = "CA certificate (PEM) every agent verifies its peers with"
    consul_gossip = "Consul gossip encryption key (consul keygen)"
    nomad_gossip  = "Nomad gossip encryption key of the servers (nomad operator gossip keyring generate)"
    server_consul = "Consul server certificate and key (PEM; server.dc1.consul)"
    server_nomad  = "Nomad server certificate and key (PEM; server.global.nomad)"
    client_consul = "Consul client certificate and key (PEM; client.dc1.consul)"
    client_nomad  = "Nomad client certificate and key (PEM; client.global.nomad)"
    vault_consul  = "Consul client certificate and key of the Vault nodes (PEM; client.dc1.consul)"
    vault_vault   = "Vault server certificate and key (PEM; the Vault load balancer's name, vault.service.consul)"
  }
  # Which secret each role reads, under the name boot.sh knows it by
  # (cluster.json's secret_<name>). Exactly these, and nothing else, are in
  # the role's policy.
  role_secrets = {
    server = { ca = "ca", consul_gossip = "consul_gossip", nomad_gossip = "nomad_gossip", consul_tls = "server_consul", nomad_tls = "server_nomad" }
    client = { ca = "ca", consul_gossip = "consul_gossip", consul_tls = "client_consul", nomad_tls = "client_nomad" }
    vault  = { ca = "ca", consul_gossip = "consul_gossip", consul_tls = "vault_consul", vault_tls = "vault_vault" }
  }
}

data "aws_region" "current" {}

resource "aws_kms_key" "secrets" {
  description             = "${var.name} boot secrets (TLS keys, gossip keys) in Secrets Manager"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  tags                    = var.tags
}

resource "aws_kms_alias" "secrets" {
  name          = "alias/${var.name}-boot-secrets"
  target_key_id = aws_kms_key.secrets.key_id
}

resource "aws_secretsmanager_secret" "boot" {
  for_each    = local.boot_secrets
  name        = "${var.name}/boot/${replace(each.key, "_", "-")}"
  description = "${each.value}, read by the instances at boot (scripts/provision/boot.sh)"
  kms_key_id  = aws_kms_key.secrets.arn
  # A secret deleted by mistake (a destroy) can be restored for a week.
  recovery_window_in_days = 7
  tags                    = var.tags
}

resource "aws_iam_role_policy" "boot_secrets" {
  for_each = local.role_secrets
  name     = "hstack-boot-secrets"
  role     = aws_iam_role.this[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "ReadOwnBootSecrets"
        Effect   = "Allow"
        Action   = "secretsmanager:GetSecretValue"
        Resource = sort([for s in values(each.value) : aws_secretsmanager_secret.boot[s].arn])
      },
      {
        Sid      = "DecryptThemThroughSecretsManager"
        Effect   = "Allow"
        Action   = "kms:Decrypt"
        Resource = aws_kms_key.secrets.arn
        Condition = {
          StringEquals = { "kms:ViaService" = "secretsmanager.${data.aws_region.current.region}.amazonaws.com" }
        }
      },
    ]
  })
}
