# A stand-in for packer/ that runs offline: Packer's built-in file source,
# shell-local provisioners and the manifest post-processor, with the same
# variables hstack image build passes to the real template.

variable "role" {
  type = string
}

variable "manifest" {
  type = string
}

variable "nomad_version" {
  type = string
}

variable "consul_version" {
  type = string
}

variable "vault_version" {
  type = string
}

variable "git_commit" {
  type = string
}

variable "fail" {
  type    = bool
  default = false
}

source "file" "image" {
  content = "hstack ${var.role} image: nomad ${var.nomad_version}, consul ${var.consul_version}, vault ${var.vault_version}, commit ${var.git_commit}"
  target  = "${var.manifest}.image"
}

build {
  sources = ["source.file.image"]

  provisioner "shell-local" {
    inline = ["echo provisioning the ${var.role} image", "echo second line"]
  }

  provisioner "shell-local" {
    script           = "${path.root}/harden.sh"
    environment_vars = ["FAIL=${var.fail}"]
  }

  post-processor "manifest" {
    output = var.manifest
    custom_data = {
      role = var.role
    }
  }
}
