#!/usr/bin/env bash
# make demo: bring the local dev stack up, render the example hstack.hcl's
# dev environment and run it: pingapp (credentials from Vault), the HAProxy
# ingress, Prometheus, Alertmanager and node-exporter. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

hstack=bin/hstack
$hstack dev up
# shellcheck source=/dev/null
source .hstack/dev.env
export PATH="$(scripts/tools.sh --print-path nomad consul vault 2>/dev/null):$PATH"

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
echo "==> rendering hstack.hcl for the dev environment into jobs/dev"
$hstack render --env dev \
  --var "pingapp_bin=$PWD/bin/pingapp" \
  --var "database_port=$PGPORT" \
  --app-version "$version"

echo "==> running the rendered jobs on Nomad"
for f in jobs/dev/*.nomad.hcl; do
  printf '    %s\n' "$(basename "$f" .nomad.hcl)"
  out=$(nomad job run -detach "$f" 2>&1) || { echo "$out" >&2; exit 1; }
done

passing() {
  curl -fsS "http://$CONSUL_HTTP_ADDR/v1/health/service/$1?passing=true" |
    jq -r '.[0].Service | select(. != null) | "\(.Address):\(.Port)"'
}
wait_for() {
  local addr=""
  for _ in $(seq 1 120); do
    addr=$(passing "$1") || true
    [ -n "$addr" ] && { echo "$addr"; return 0; }
    sleep 1
  done
  echo "$1 did not become healthy; see: nomad job status $1" >&2
  return 1
}

echo "==> waiting for Consul health checks"
app=$(wait_for pingapp)
prom=$(wait_for prometheus)
am=$(wait_for alertmanager)
ingress=127.0.0.1:8080
for _ in $(seq 1 60); do
  curl -fsS "http://$ingress/ping" >/dev/null 2>&1 && break
  sleep 1
done
printf '==> GET http://%s/ping (through HAProxy, then PostgreSQL) -> ' "$ingress"
curl -fsS "http://$ingress/ping"

cat <<EOM

hstack dev stack is up, running hstack.hcl's dev environment:
  ingress       http://$ingress/ping
  Prometheus    http://$prom/targets
  Alertmanager  http://$am/#/alerts
  Nomad         $NOMAD_ADDR
  Consul        http://$CONSUL_HTTP_ADDR/ui
  Vault         $VAULT_ADDR   (root token in .hstack/dev.env)
  pingapp       http://$app/metrics   (one instance, found through Consul)

Use the products' CLIs against it:  source .hstack/dev.env
Stop everything:                     make demo-down
EOM
