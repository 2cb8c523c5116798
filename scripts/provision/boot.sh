#!/usr/bin/env bash
# hstack-boot: the launch template's user data runs this once, at an
# instance's first boot, after writing /etc/hstack/cluster.json. The AMI
# was baked with `<role>.sh --phase all` and no secrets, so every agent is
# installed but disabled. This fetches the role's TLS certificates and
# gossip keys from AWS Secrets Manager (the instance role may read exactly
# its own, module iam), hands them to `<role>.sh --phase configure --mode
# prod --join aws --enable`, which installs them and starts the agents,
# and removes its copies.
#
# A missing or unreadable secret fails the boot, naming the secret, before
# anything is configured: the agents stay disabled rather than start
# without TLS or gossip encryption (their units also refuse to start
# without the key files: ConditionPathExists).
#
# A secret not uploaded yet is waited for (HSTACK_BOOT_WAIT_SECONDS,
# default 1800, asking every HSTACK_BOOT_RETRY_SECONDS, default 30).
# Options (tests): --root DIR is passed on to the role script (no systemctl
# unless it is /). Environment: HSTACK_CLUSTER_JSON, HSTACK_IMDS_URL,
# HSTACK_SECRETSMANAGER_ENDPOINT.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=aws.sh
source "$here/aws.sh"
log() { echo "hstack-boot: $*" >&2; }
die() { log "$*; the agents stay disabled"; exit 1; }

root=/
while [ $# -gt 0 ]; do
  case $1 in
    --root) root=${2:?--root needs a directory}; shift ;;
    *) die "unknown option '$1' (boot.sh takes only --root DIR; settings come from $cluster_json)" ;;
  esac
  shift
done

command -v jq >/dev/null || die "jq is not installed (the images install it)"
[ -f "$cluster_json" ] || die "no $cluster_json (the launch template's user data writes it)"

role=$(setting role)
case $role in
  server) kinds="ca consul_gossip nomad_gossip consul_tls nomad_tls" ;;
  client) kinds="ca consul_gossip consul_tls nomad_tls" ;;
  vault) kinds="ca consul_gossip consul_tls vault_tls" ;;
  *) die "$cluster_json: role '$role' is not server, client or vault" ;;
esac

# Every secret's name first: a cluster.json without one fails before any call.
declare -A names
for k in $kinds; do
  names[$k]=$(setting "secret_$k")
  [ -n "${names[$k]}" ] || die "$cluster_json names no secret_$k (module iam's boot_material_names)"
done
region=$(setting aws_region)
[ -n "$region" ] || region=$(meta placement/region) || die "no aws_region in $cluster_json and none in the instance metadata"
endpoint=${HSTACK_SECRETSMANAGER_ENDPOINT:-https://secretsmanager.$region.amazonaws.com/}

# The secrets exist on this disk only until the role script has installed
# them (with their owners and modes) into the agents' config directories.
mkdir -p "$root/run"
umask 077
stage=$(mktemp -d "$root/run/hstack-boot.XXXXXX")
trap 'rm -rf "$stage"' EXIT
install -d -m 0700 "$stage/tls"

# fetch KIND: the secret's value (SecretString) into $stage/KIND.
fetch() {
  local kind=$1 name=${names[$1]} code
  code=$(aws_curl secretsmanager "$region" -o "$stage/response" -w '%{http_code}' \
    -H 'X-Amz-Target: secretsmanager.GetSecretValue' -H 'Content-Type: application/x-amz-json-1.1' \
    --data-binary "$(jq -cn --arg id "$name" '{SecretId: $id}')" "$endpoint") || code=000
  if [ "$code" != 200 ]; then
    # AWS's error body holds its type and message, never a secret.
    log "secret $name ($kind): Secrets Manager answered HTTP $code $(jq -r '(.__type // "") + " " + (.message // .Message // "")' "$stage/response" 2>/dev/null || true)"
    return 1
  fi
  if ! jq -ej '.SecretString // empty' "$stage/response" >"$stage/$kind" 2>/dev/null; then
    log "secret $name ($kind) has no value (SecretString): upload it with aws secretsmanager put-secret-value (docs/runbooks.md)"
    return 1
  fi
  rm -f "$stage/response"
}

fetch_all() {
  local k
  for k in $kinds; do fetch "$k" || return 1; done
}

# split_pem KIND PRODUCT: a *_tls secret (certificate chain and private key,
# PEM, in one string) into tls/PRODUCT.pem and tls/PRODUCT-key.pem.
split_pem() {
  local kind=$1 p=$2
  awk -v cert="$stage/tls/$p.pem" -v key="$stage/tls/$p-key.pem" '
    /^-----BEGIN / { out = ($0 ~ /PRIVATE KEY/) ? key : cert }
    out != "" { print > out }
    /^-----END / { out = "" }
  ' "$stage/$kind"
  [ -s "$stage/tls/$p.pem" ] || die "secret ${names[$kind]} ($kind) holds no PEM certificate"
  [ -s "$stage/tls/$p-key.pem" ] || die "secret ${names[$kind]} ($kind) holds no PEM private key"
}

# The secrets' shells and the instances come from the same apply, so the
# first instances may boot before the operator has uploaded the values:
# wait for them (HSTACK_BOOT_WAIT_SECONDS, default 30 min), then give up.
wait_s=${HSTACK_BOOT_WAIT_SECONDS:-1800}
deadline=$((SECONDS + wait_s))
until fetch_all; do
  [ "$SECONDS" -lt "$deadline" ] || die "gave up after ${wait_s}s waiting for the secret named above"
  log "retrying in ${HSTACK_BOOT_RETRY_SECONDS:-30}s"
  sleep "${HSTACK_BOOT_RETRY_SECONDS:-30}"
done
grep -q -- '-----BEGIN CERTIFICATE-----' "$stage/ca" || die "secret ${names[ca]} (ca) holds no PEM certificate"
mv "$stage/ca" "$stage/tls/ca.pem"
args=(--root "$root" --phase configure --mode prod --join aws --tls-dir "$stage/tls" --gossip-key-file "$stage/consul_gossip" --enable)
for k in $kinds; do
  case $k in
    consul_tls) split_pem "$k" consul ;;
    nomad_tls) split_pem "$k" nomad ;;
    vault_tls) split_pem "$k" vault ;;
    nomad_gossip) args+=(--nomad-gossip-key-file "$stage/nomad_gossip") ;;
  esac
done

tag_key=$(jq -r '.cluster_tag // {} | keys[0] // empty' "$cluster_json")
if [ -n "$tag_key" ]; then
  args+=(--tag-key "$tag_key" --tag-value "$(jq -r --arg k "$tag_key" '.cluster_tag[$k]' "$cluster_json")")
fi
bootstrap_expect=$(setting bootstrap_expect)
[ -z "$bootstrap_expect" ] || args+=(--bootstrap-expect "$bootstrap_expect")
if [ "$role" = vault ]; then
  kms_key_id=$(setting awskms_key_id)
  [ -n "$kms_key_id" ] || die "$cluster_json names no awskms_key_id: Vault cannot auto-unseal"
  args+=(--kms-key-id "$kms_key_id" --aws-region "$region")
fi

log "$role: fetched ${kinds// /, } from Secrets Manager; configuring and starting the agents"
"$here/$role.sh" "${args[@]}" || die "$role.sh --phase configure failed"
if [ "$root" = / ]; then
  log "$role: agents configured with TLS and gossip encryption, enabled and started"
else
  log "$role: agents configured with TLS and gossip encryption under $root (not enabled: not /)"
fi
