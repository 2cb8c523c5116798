#!/usr/bin/env bash
# make demo: bring the local dev stack up and run pingapp on it as a Nomad
# job whose database credentials come from Vault. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

hstack=bin/hstack
$hstack dev up
# shellcheck source=/dev/null
source .hstack/dev.env
export PATH="$(scripts/tools.sh --print-path nomad consul vault 2>/dev/null):$PATH"

echo "==> running pingapp as a Nomad job (raw_exec, credentials from Vault)"
nomad job run -detach \
  -var "pingapp_bin=$PWD/bin/pingapp" \
  -var "version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
  -var "database_port=$PGPORT" \
  jobs/pingapp.nomad.hcl >/dev/null

echo "==> waiting for pingapp to pass its Consul health check"
addr=""
for _ in $(seq 1 120); do
  addr=$(curl -fsS "http://$CONSUL_HTTP_ADDR/v1/health/service/pingapp?passing=true" |
    jq -r '.[0].Service | select(. != null) | "\(.Address):\(.Port)"') || true
  [ -n "$addr" ] && break
  sleep 1
done
if [ -z "$addr" ]; then
  echo "pingapp did not become healthy; recent allocation events:" >&2
  nomad job status pingapp >&2 || true
  exit 1
fi

printf '==> GET http://%s/ping -> ' "$addr"
curl -fsS "http://$addr/ping"

cat <<EOM

hstack dev stack is up:
  Nomad    $NOMAD_ADDR
  Consul   http://$CONSUL_HTTP_ADDR/ui
  Vault    $VAULT_ADDR   (root token in .hstack/dev.env)
  Postgres $PGHOST:$PGPORT
  pingapp  http://$addr/ping   http://$addr/metrics

Use the products' CLIs against it:  source .hstack/dev.env
Stop everything:                     make demo-down
EOM
