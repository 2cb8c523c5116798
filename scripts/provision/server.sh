#!/usr/bin/env bash
# Provision a server node: Consul server and Nomad server (Vault runs on its
# own nodes, vault.sh). Options: server.sh --help; see README.md.
set -euo pipefail
role=server
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_args "$@"

if [ "$phase" != configure ]; then
  packages unzip curl ca-certificates gnupg auditd unattended-upgrades jq
  install_binaries consul nomad
  users consul nomad
  copy_self
  harden
fi
if [ "$phase" != install ]; then
  render_consul true
  render_nomad true
  enable_units consul nomad
fi
note "server: done under $root"
