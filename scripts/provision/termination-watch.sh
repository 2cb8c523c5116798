#!/usr/bin/env bash
# hstack-termination-watch: on a Nomad client in an auto scaling group, drain
# the node before the instance goes away.
#
# The client ASG has a termination lifecycle hook (terraform/modules/clients):
# a terminating instance waits in Terminating:Wait instead of being shut down
# at once (instance refresh, AZ rebalancing, a scale-in the autoscaler did not
# start, a manual terminate). This watch sees that in the instance metadata
# (autoscaling/target-lifecycle-state), stops Nomad, which drains the node
# first (drain_on_shutdown in the client config, rendered by lib.sh), and then
# completes the lifecycle action so the instance terminates without waiting
# out the hook's timeout. If anything here fails, the hook's timeout still
# ends the wait (default result CONTINUE): the node is then terminated, as it
# would have been without the hook.
#
# Settings come from /etc/hstack/cluster.json (the launch template's user
# data): asg_name and lifecycle_hook. The AWS call is signed by curl
# (--aws-sigv4) with the instance role's credentials from IMDSv2; they go to
# curl on standard input, never on a command line or in the log.
set -euo pipefail

imds=${HSTACK_IMDS_URL:-http://169.254.169.254}
cluster_json=${HSTACK_CLUSTER_JSON:-/etc/hstack/cluster.json}
poll=${HSTACK_POLL_SECONDS:-5}

log() { echo "hstack-termination-watch: $*" >&2; }

# setting NAME prints a string value of the compact JSON object in
# cluster.json (jsonencode writes one line, no spaces).
setting() {
  sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" "$cluster_json"
}

token() {
  curl -sf --max-time 5 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 300" "$imds/latest/api/token"
}

# meta PATH prints an instance metadata item.
meta() {
  curl -sf --max-time 5 -H "X-aws-ec2-metadata-token: $(token)" "$imds/latest/meta-data/$1"
}

# json_field NAME reads a string field of the JSON on standard input.
json_field() {
  tr -d '\n' | sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p"
}

complete_action() {
  local asg=$1 hook=$2 instance region role creds endpoint
  instance=$(meta instance-id)
  region=$(meta placement/region)
  role=$(meta iam/security-credentials/ | head -n1)
  creds=$(meta "iam/security-credentials/$role")
  endpoint=${HSTACK_AUTOSCALING_ENDPOINT:-https://autoscaling.$region.amazonaws.com/}
  # curl reads the credentials from its config on stdin.
  printf 'user = "%s:%s"\nheader = "x-amz-security-token: %s"\n' \
    "$(json_field AccessKeyId <<<"$creds")" "$(json_field SecretAccessKey <<<"$creds")" "$(json_field Token <<<"$creds")" |
    curl -sf --max-time 30 --config - --aws-sigv4 "aws:amz:$region:autoscaling" \
      --data-urlencode "Action=CompleteLifecycleAction" --data-urlencode "Version=2011-01-01" \
      --data-urlencode "AutoScalingGroupName=$asg" --data-urlencode "LifecycleHookName=$hook" \
      --data-urlencode "LifecycleActionResult=CONTINUE" --data-urlencode "InstanceId=$instance" \
      "$endpoint" >/dev/null
}

main() {
  local asg hook state
  asg=$(setting asg_name)
  hook=$(setting lifecycle_hook)
  if [ -z "$asg" ] || [ -z "$hook" ]; then
    log "no asg_name or lifecycle_hook in $cluster_json: nothing to watch"
    return 0
  fi
  log "watching for the termination of this instance ($asg, hook $hook)"
  while :; do
    # Not answered (IMDS busy, no hook yet): ask again.
    state=$(meta autoscaling/target-lifecycle-state 2>/dev/null || true)
    if [ "$state" = Terminated ]; then
      break
    fi
    sleep "$poll"
  done
  log "instance is terminating: stopping Nomad, which drains the node first"
  if ! systemctl stop nomad.service; then
    log "stopping Nomad failed; completing the lifecycle action anyway"
  fi
  if complete_action "$asg" "$hook"; then
    log "lifecycle action completed: the instance terminates now"
  else
    log "could not complete the lifecycle action; the hook's timeout will"
  fi
}

main "$@"
