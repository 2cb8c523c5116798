#!/usr/bin/env bash
# Install the Debian packages the local stack needs, when missing. The
# HashiCorp binaries are not in Debian; scripts/tools.sh builds those.
set -euo pipefail

pkgs=(postgresql prometheus prometheus-alertmanager prometheus-node-exporter haproxy curl jq unzip shellcheck vagrant
  nodejs chromium) # Node builds Nomad's web UI (tools.sh nomad-ui); chromium runs the browser tests
# npm comes with NodeSource's nodejs, and separately with Debian's.
command -v npm >/dev/null || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  # Read dpkg-query's whole answer: `| grep -q` under pipefail can fail with
  # SIGPIPE when grep exits before the writer is done.
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=""
  [[ $status == *"install ok installed"* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null || { echo "deps.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
echo "installing Debian packages: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# policy-rc.d keeps the packages' own services from starting: hstack runs
# private instances on its own ports instead.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  trap '$sudo rm -f /usr/sbin/policy-rc.d' EXIT
fi
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
