#!/usr/bin/env bash
# Provision a Vault node: Vault (Raft storage, awskms or Shamir seal) and a
# Consul client it registers through. Options: vault.sh --help; see README.md.
set -euo pipefail
role=vault
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_args "$@"

if [ "$phase" != configure ]; then
  packages unzip curl ca-certificates gnupg auditd unattended-upgrades jq logrotate
  install_binaries consul vault
  users consul vault
  copy_self
  harden
fi
if [ "$phase" != install ]; then
  # On a server node (Vagrant, the loopback cluster) the Consul agent is
  # the server server.sh rendered; a client config would replace it.
  [ "$colocated" = 1 ] || render_consul false
  render_vault
  enable_units consul vault
fi
note "vault: done under $root"
