# One template for every hstack machine image: the role (server, client,
# vault) picks the scripts/provision entry point, the instance type and the
# tags. Build with `hstack image build --role server` (see README.md).

packer {
  required_version = ">= 1.11.0"
  required_plugins {
    amazon = {
      source  = "github.com/hashicorp/amazon"
      version = "~> 1.3"
    }
  }
}

locals {
  # Packer's timestamp() is the build time, in RFC 3339 for the tags and
  # compacted for the AMI name.
  build_time = timestamp()
  name_stamp = formatdate("YYYYMMDDhhmmss", local.build_time)
  provision  = "/tmp/hstack-provision"
}

source "amazon-ebs" "hstack" {
  region        = var.region
  instance_type = var.instance_type
  ssh_username  = "admin"
  ami_name      = "hstack-${var.role}-${local.name_stamp}"

  source_ami_filter {
    # Debian 12 (bookworm), published by the Debian project's own account.
    filters = {
      name                = "debian-12-amd64-*"
      architecture        = "x86_64"
      root-device-type    = "ebs"
      virtualization-type = "hvm"
    }
    owners      = ["136693071363"]
    most_recent = true
  }

  # IMDSv2 only, while building and on every instance launched from the AMI.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  imds_support = "v2.0"

  launch_block_device_mappings {
    device_name           = "/dev/xvda"
    volume_size           = var.volume_size
    volume_type           = "gp3"
    encrypted             = true
    kms_key_id            = var.kms_key_id
    delete_on_termination = true
  }
  encrypt_boot = true
  kms_key_id   = var.kms_key_id

  subnet_id                   = var.subnet_id
  associate_public_ip_address = var.subnet_id == "" ? true : false
  # Packer reaches the build instance over SSH through a temporary key and
  # a temporary security group open to the builder's address only.
  temporary_security_group_source_public_ip = true

  tags = {
    Name           = "hstack-${var.role}"
    role           = var.role
    nomad_version  = var.nomad_version
    consul_version = var.consul_version
    vault_version  = var.vault_version
    git_commit     = var.git_commit
    build_time     = local.build_time
    managed_by     = "packer"
  }
  run_tags = {
    Name = "packer-hstack-${var.role}"
  }
}

build {
  name    = "hstack"
  sources = ["source.amazon-ebs.hstack"]

  provisioner "shell" {
    inline = ["mkdir -p ${local.provision}"]
  }

  provisioner "file" {
    source      = "${path.root}/../scripts/provision/"
    destination = local.provision
  }

  provisioner "file" {
    source      = "${path.root}/../pkg/tools/versions.env"
    destination = "${local.provision}/versions.env"
  }

  provisioner "file" {
    source      = var.hashicorp_gpg_key
    destination = "${local.provision}/hashicorp.asc"
  }

  provisioner "shell" {
    execute_command = "chmod +x {{ .Path }}; sudo {{ .Vars }} bash {{ .Path }}"
    inline = [
      "bash ${local.provision}/${var.role}.sh --source ${var.release_source} --gpg-key ${local.provision}/hashicorp.asc --phase all --mode prod --join aws --tag-key ${var.join_tag_key} --tag-value ${var.join_tag_value} --aws-region ${var.region}",
      "rm -rf ${local.provision}",
    ]
  }

  post-processor "manifest" {
    output     = var.manifest
    strip_path = true
    custom_data = {
      role       = var.role
      git_commit = var.git_commit
    }
  }
}
