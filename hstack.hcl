# hstack.hcl: the stack that `hstack` renders into Nomad jobs and deploys.
# Full reference: docs/stack-file.md.  Check it with `hstack validate`.
#
# The top level is the base configuration, a complete stack on its own.
# Environment blocks at the bottom override parts of it: `--env dev` runs
# the sample app as a plain binary on the local dev stack (`hstack dev up`),
# `--env prod` runs the container on the AWS cluster with Aurora.

# ---------------------------------------------------------------- inputs --
# Set with -var 'name=value', a -var-file, or HSTACK_VAR_<name>.

variable "image_tag" {
  type        = string
  default     = "1.0.0"
  description = "Tag of the pingapp image to deploy."

  validation {
    condition     = can(regex("^[0-9A-Za-z._-]+$", var.image_tag))
    error_message = "image_tag must be a plain tag like 1.2.0 or a commit SHA."
  }
}

variable "pingapp_bin" {
  type        = string
  default     = "bin/pingapp" # what `make build` produces
  description = "The pingapp binary run by raw_exec in dev (relative to this file)."
}

variable "database_port" {
  type        = number
  default     = 5432
  description = "Port of the dev database (hstack dev up uses PostgreSQL's standard port)."
}

variable "ingress_port" {
  type        = number
  default     = 8080
  description = "Port the ingress listens on."
}

variable "log_level" {
  type    = string
  default = "info"
}

variable "extra_env" {
  type        = map(string)
  default     = {}
  description = "Extra environment for pingapp, e.g. its FAULT_* knobs to make a bad release on purpose."
}

# ----------------------------------------------------------------- stack --

stack "shop" {
  region      = "global"
  datacenters = ["dc1"]
  namespace   = "default"
}

# ------------------------------------------------------------- databases --
# Apps never see a password in configuration: Vault's database secrets
# engine (mounted at vault_mount) creates a short-lived PostgreSQL user per
# instance from one of these roles.

database "main" {
  # The dev stack's private PostgreSQL. prod replaces this with Aurora.
  address = "127.0.0.1"
  port    = var.database_port
  name    = "postgres"

  vault_mount = "database"

  role "pingapp" {
    privilege   = "readwrite"
    default_ttl = "1h"
    max_ttl     = "24h"
  }

  role "reporting" {
    privilege   = "readonly"
    default_ttl = "30m"
    max_ttl     = "8h"
  }
}

# ------------------------------------------------------------------ apps --

app "pingapp" {
  driver = "docker"
  image  = "ghcr.io/hstack-dev/pingapp:${var.image_tag}"
  # $${...} is HCL's escape for a literal ${...}: Nomad fills it in.
  args  = ["-listen", "$${NOMAD_ADDR_http}", "-drain", "2s"]
  count = 2

  port "http" {
    to = 8080
  }

  env = merge({
    LOG_LEVEL = var.log_level
  }, var.extra_env)
  tags = ["web", "version-${var.image_tag}"]
  meta = {
    team    = "payments"
    version = var.image_tag
  }
  config = {
    greeting = "hi"
  }

  resources {
    cpu        = 200
    memory     = 128
    memory_max = 256
  }

  health {
    path     = "/readyz"
    port     = "http"
    interval = "5s"
    timeout  = "2s"
  }

  database {
    name = "main"
    role = "pingapp"
  }

  # Leave the load balancer before the task is signalled, then give
  # in-flight requests time to finish.
  shutdown_delay = "5s"
  kill_timeout   = "15s"

  rollout {
    strategy          = "rolling"
    max_parallel      = 1
    min_healthy_time  = "10s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
    auto_revert       = true

    smoke_test "ping" {
      path          = "/ping"
      expect_status = 200
      expect_body   = "pong"
    }

    notify = ["ops"]
  }
}

# ------------------------------------------------------------- notifiers --
# Rollout events go here. The URL is a secret, so only where to find it is
# written: an environment variable of whoever runs `hstack deploy`, or Vault.

notifier "ops" {
  type    = "slack"
  url_env = "SLACK_WEBHOOK_URL"
}

# --------------------------------------------------------------- ingress --

ingress {
  port = var.ingress_port

  route "pingapp" {
    app         = "pingapp"
    path_prefix = "/"
  }
}

# ------------------------------------------------------------ monitoring --

monitoring {
  prometheus {
    retention       = "15d"
    scrape_interval = "15s"
  }

  alertmanager {
    # Alertmanager reads the PagerDuty key from Vault when it starts.
    receiver "oncall" {
      type      = "pagerduty"
      key_vault = "secret/data/alerting#pd_key"
    }

    route {
      receiver        = "oncall"
      group_by        = ["alertname", "job"]
      repeat_interval = "4h"
    }
  }

  grafana {}
  node_exporter {}

  logs {
    backend = "loki"
  }
}

# ---------------------------------------------------------- environments --
# Blocks are matched by type and name and merged: attributes written here
# replace the base's, nested blocks merge the same way, and null removes a
# base attribute.

environment "dev" {
  # The local dev stack has no Docker: run the binary `make build` built.
  app "pingapp" {
    driver  = "raw_exec"
    command = var.pingapp_bin
    count   = 1

    env = merge({
      LOG_LEVEL = "debug"
    }, var.extra_env)

    # A canary beside the running instance, judged by its smoke test and
    # by its own success rate over a short window, then promoted.
    rollout {
      strategy         = "canary"
      canary           = 1
      min_healthy_time = "5s"
      healthy_deadline = "1m"
      notify           = []

      # A laptop has no users: while the canary is judged, hstack sends
      # steady traffic through the ingress, which splits it between the
      # stable instance and the canary.
      load_test {
        url         = "http://127.0.0.1:${var.ingress_port}/ping"
        rate        = 20
        expect_body = "pong"
      }

      analysis "success-rate" {
        query         = "1 - ((sum(rate(pingapp_http_requests_total{app=\"pingapp\",version=\"{{ .Version }}\",route=\"/ping\",code=~\"5..\"}[20s])) or vector(0)) / sum(rate(pingapp_http_requests_total{app=\"pingapp\",version=\"{{ .Version }}\",route=\"/ping\"}[20s])))"
        interval      = "10s"
        count         = 4
        min           = 0.95
        failure_limit = 0
        # The ingress needs a few seconds (DNS refresh, two passing health
        # checks) before it sends the new canary traffic: allow the first
        # two measurements to find none.
        inconclusive_limit = 2
      }
    }
  }

  monitoring {
    # Faster feedback on a laptop.
    prometheus {
      scrape_interval = "5s"
    }

    # No Vault secret for a pager locally: alerts go to an email address
    # that nothing delivers to (there is no SMTP relay on the dev stack);
    # see them in Alertmanager's UI or API.
    alertmanager {
      receiver "oncall" {
        type      = "email"
        key_vault = null
        to        = "oncall@localhost"
      }
    }
    grafana {
      enabled = false
    }
    logs {
      enabled = false
    }
  }
}

environment "prod" {
  # The agents' datacenter, as scripts/provision renders it on the images
  # (--datacenter, dc1 unless given); the availability zones are the
  # clients' node meta (zone), which spread_across_zones spreads over.
  stack "shop" {
    datacenters = ["dc1"]
  }

  # Aurora PostgreSQL, whose endpoints Terraform knows; null removes the
  # base's local address so the two cannot disagree.
  database "main" {
    address = null
    port    = null

    from_terraform_output {
      dir    = "terraform/envs/prod"
      writer = "aurora_writer_endpoint"
      reader = "aurora_reader_endpoint"
      port   = "aurora_port"
    }
  }

  app "pingapp" {
    count               = 3
    spread_across_zones = true

    resources {
      cpu    = 500
      memory = 256
    }

    scaling {
      min    = 3
      max    = 10
      query  = "sum(rate(pingapp_http_requests_total[1m])) / count(up{job=\"pingapp\"})"
      target = 100
    }

    # One canary takes 5% of the traffic while the success rate is
    # measured, then a second one; only then does Nomad replace the rest.
    rollout {
      strategy          = "canary"
      canary            = 1
      healthy_deadline  = "5m"
      progress_deadline = "15m"
      auto_promote      = false

      step {
        canary   = 1
        pause    = "1m"
        analysis = ["success-rate"]
      }

      step {
        canary   = 2
        pause    = "2m"
        analysis = ["success-rate", "latency"]
      }

      analysis "success-rate" {
        query              = "sum(rate(pingapp_http_requests_total{code!~\"5..\",version=\"{{ .Version }}\"}[1m])) / sum(rate(pingapp_http_requests_total{version=\"{{ .Version }}\"}[1m]))"
        interval           = "15s"
        count              = 4
        min                = 0.99
        failure_limit      = 1
        inconclusive_limit = 1
      }

      analysis "latency" {
        query         = "histogram_quantile(0.99, sum by (le) (rate(pingapp_http_request_duration_seconds_bucket{version=\"{{ .Version }}\"}[1m])))"
        interval      = "15s"
        count         = 4
        max           = 0.5
        failure_limit = 1
      }

      notify = ["ops"]
    }
  }

  notifier "ops" {
    url_env   = null
    url_vault = "secret/data/hooks#ops_url"
  }
}
