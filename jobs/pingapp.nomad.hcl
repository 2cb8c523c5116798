# pingapp on the local dev stack (raw_exec). Until `hstack render` generates
# jobs from hstack.hcl, this file is the one `make demo` and the integration
# tests run. The database password never appears here or in the task's
# environment: the template below fetches short-lived credentials from Vault
# with the task's workload identity and writes them to the secrets dir, and
# pingapp re-reads that file on SIGHUP.

variable "pingapp_bin" {
  type        = string
  description = "Absolute path of the pingapp binary on the Nomad client."
}

variable "version" {
  type    = string
  default = "dev"
}

variable "count" {
  type    = number
  default = 1
}

variable "database_host" {
  type    = string
  default = "127.0.0.1"
}

variable "database_port" {
  type    = number
  default = 5432
}

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

job "pingapp" {
  datacenters = var.datacenters
  type        = "service"

  meta {
    version = var.version
  }

  group "pingapp" {
    count = var.count

    network {
      port "http" {}
    }

    service {
      name = "pingapp"
      port = "http"
      tags = ["http", "version-${var.version}"]

      meta {
        version = var.version
      }

      check {
        name     = "pingapp ready"
        type     = "http"
        path     = "/readyz"
        interval = "2s"
        timeout  = "1s"
      }
    }

    # Leave the load balancer before the task is signalled.
    shutdown_delay = "2s"

    restart {
      attempts = 2
      interval = "1m"
      delay    = "2s"
      mode     = "fail"
    }

    task "pingapp" {
      driver = "raw_exec"

      config {
        command = var.pingapp_bin
        args    = ["-listen", "${NOMAD_ADDR_http}", "-drain", "2s"]
      }

      # Log in to Vault with the task's workload identity (JWT auth role
      # nomad-workloads); the policy lets job "pingapp" read only
      # database/creds/pingapp.
      vault {}

      template {
        data          = <<-EOT
          {{ with secret "database/creds/pingapp" }}host=${var.database_host} port=${var.database_port} dbname=postgres user={{ .Data.username }} password={{ .Data.password }} sslmode=disable{{ end }}
        EOT
        destination   = "secrets/database.conn"
        perms         = "0600"
        change_mode   = "signal"
        change_signal = "SIGHUP"
      }

      env {
        DATABASE_URL_FILE = "${NOMAD_SECRETS_DIR}/database.conn"
      }

      kill_timeout = "10s"

      resources {
        cpu    = 100
        memory = 64
      }
    }
  }
}
