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

# shellcheck source=aws.sh
source "$(dirname "${BASH_SOURCE[0]}")/aws.sh"
poll=${HSTACK_POLL_SECONDS:-5}

log() { echo "hstack-termination-watch: $*" >&2; }

complete_action() {
  local asg=$1 hook=$2 instance region endpoint
  instance=$(meta instance-id)
  region=$(meta placement/region)
  endpoint=${HSTACK_AUTOSCALING_ENDPOINT:-https://autoscaling.$region.amazonaws.com/}
  aws_curl autoscaling "$region" -f \
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
