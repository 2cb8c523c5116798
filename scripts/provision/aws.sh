# shellcheck shell=bash
# Shared by termination-watch.sh and boot.sh: the launch template's
# cluster.json, instance metadata (IMDSv2
# only, as the launch template requires) and AWS API calls signed by curl
# (--aws-sigv4) with the instance role's credentials. The credentials go to
# curl in a config on standard input, never on a command line (where ps
# shows them) or in a log.

imds=${HSTACK_IMDS_URL:-http://169.254.169.254}
cluster_json=${HSTACK_CLUSTER_JSON:-/etc/hstack/cluster.json}

# setting KEY prints a top-level string or number of cluster.json, or nothing.
setting() { jq -r --arg k "$1" '.[$k] // empty | tostring' "$cluster_json"; }

imds_token() {
  curl -sf --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$imds/latest/api/token"
}

# meta PATH prints an instance metadata item.
meta() {
  curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: $(imds_token)" "$imds/latest/meta-data/$1"
}

# json_field NAME reads a string field of the JSON on standard input (the
# metadata's credentials document: flat, no escapes).
json_field() {
  tr -d '\n' | sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p"
}

# aws_curl SERVICE REGION CURL-ARGS...: curl, signed with SigV4 for SERVICE
# in REGION with the instance role's current credentials.
aws_curl() {
  local service=$1 region=$2 role creds
  shift 2
  role=$(meta iam/security-credentials/ | head -n1)
  [ -n "$role" ] || { echo "no instance role in the instance metadata" >&2; return 1; }
  creds=$(meta "iam/security-credentials/$role")
  printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' \
    "$(json_field AccessKeyId <<<"$creds")" "$(json_field SecretAccessKey <<<"$creds")" "$(json_field Token <<<"$creds")" |
    curl -s --max-time 30 --config - --aws-sigv4 "aws:amz:$region:$service" "$@"
}
