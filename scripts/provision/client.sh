#!/usr/bin/env bash
# Provision a client node: Consul client, Nomad client, Docker and the CNI
# plugins. Options: client.sh --help; see README.md.
set -euo pipefail
role=client
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh"
parse_args "$@"

if [ "$phase" != configure ]; then
  # Debian's containernetworking-plugins puts the CNI plugins in /usr/lib/cni,
  # where the rendered client config looks for them.
  packages unzip curl ca-certificates gnupg auditd unattended-upgrades jq docker.io containernetworking-plugins
  install_binaries consul nomad
  users consul
  copy_self
  harden
fi
if [ "$phase" != install ]; then
  render_consul false
  render_nomad false
  if [ "$join" = aws ] && [ -n "$drain_deadline" ]; then
    render_termination_watch
    enable_units consul nomad hstack-termination-watch
  else
    enable_units consul nomad
  fi
fi
note "client: done under $root"
