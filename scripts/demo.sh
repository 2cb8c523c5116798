#!/usr/bin/env bash
# make demo: bring the local dev stack up and release hstack.hcl's dev
# environment with hstack deploy: pingapp (credentials from Vault), the
# HAProxy ingress, Prometheus, Alertmanager and node-exporter; then release
# pingapp's next version as a canary, judged on its metrics under load
# through the ingress. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

hstack=bin/hstack
$hstack dev up
# shellcheck source=/dev/null
source .hstack/dev.env
PATH="$(scripts/tools.sh --print-path nomad-ui consul vault 2>/dev/null):$PATH"
export PATH

version=$(git describe --tags --always --dirty 2>/dev/null || echo dev)
ingress=127.0.0.1:8080

vars=(--env dev --var "pingapp_bin=$PWD/bin/pingapp" --var "database_port=$PGPORT")
# Debian's Alertmanager has no web UI; the dev stack's serves the release's.
amui_dir=$(scripts/tools.sh --print-path alertmanager-ui 2>/dev/null)
amui=(--bin "alertmanager-ui=$amui_dir")

echo "==> hstack db setup: Vault's database roles as hstack.hcl declares them"
$hstack db setup "${vars[@]}"

echo "==> hstack deploy: hstack.hcl's dev environment (ingress, monitoring, pingapp 1.0.0)"
$hstack deploy "${vars[@]}" "${amui[@]}" --var image_tag=1.0.0 --commit "$version"

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

app=$(wait_for pingapp)
prom=$(wait_for prometheus)
am=$(wait_for alertmanager)
printf '==> GET http://%s/ping (through HAProxy, then PostgreSQL) -> ' "$ingress"
curl -fsS "http://$ingress/ping"

echo "==> hstack deploy: pingapp 1.0.1 as a canary, judged by its smoke test and its success rate"
echo "    under the rollout's load test (20 requests/s through the ingress)"
# --detach: should the analysis be unable to decide, stop there (exit 4)
# instead of waiting for a human.
code=0
$hstack deploy "${vars[@]}" "${amui[@]}" --var image_tag=1.0.1 --commit "$version" --detach pingapp || code=$?
case $code in
  0) ;;
  4) echo "==> the canary is waiting for a decision: hstack promote pingapp  (or: hstack abort pingapp)" ;;
  *) echo "==> the canary release failed (exit $code); the stable version keeps serving" >&2; exit $code ;;
esac
app=$(wait_for pingapp)
# The release just made, as hstack links it (the job page: its deployment,
# the canary, "Promote Canary" while it waits).
nomad_ui=$($hstack status pingapp --json | jq -r '.ui // empty') || nomad_ui=""
[ -n "$nomad_ui" ] || nomad_ui="$NOMAD_ADDR/ui/jobs/pingapp@default"

cat <<EOM

The dev stack is up, running hstack.hcl's dev environment:
  ingress       http://$ingress/ping
  Prometheus    http://$prom/targets
  Alertmanager  http://$am/#/alerts
  Nomad UI      $nomad_ui   (the release just made)
  Nomad         $NOMAD_ADDR/ui/
  Consul        http://$CONSUL_HTTP_ADDR/ui
  Vault         $VAULT_ADDR   (root token in .hstack/dev.env)
  pingapp       http://$app/metrics   (version 1.0.1, released as a canary)

  hstack status pingapp --env dev      hstack history pingapp
  hstack services                      hstack db creds --env dev reporting

Watch pingapp scale: its count, its bounds and the last scaling events are
in its status (docs/runbooks.md, "Scaling by hand" and "Scaling automatically").
In one terminal:
  watch -n 2 hstack status pingapp
and in another, scale it by hand (recorded as a scaling event):
  hstack scale --reason demo pingapp 2
The Nomad Autoscaler scales it by itself where pingapp has a scaling block
(hstack.hcl's prod environment). To watch that happen on this machine, under
a load step through the ingress, with the time to new instances passing:
  go test ./pkg/render -run TestAutoscalerScalesPingappUnderLoad -count=1 -v

Use the products' CLIs against it:  source .hstack/dev.env
Stop everything:                     make demo-down
EOM
