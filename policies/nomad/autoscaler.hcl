# Nomad policy "autoscaler": the Nomad Autoscaler agent (horizontal app
# scaling from the stack file's scaling blocks).
#
# Held by: the autoscaler job's token, nothing else. These are the rules
# the Nomad Autoscaler documentation lists for horizontal application
# scaling.
namespace "default" {
  # Find jobs with scaling policies, read them and change a group's count.
  capabilities = ["list-jobs", "read-job", "read-job-scaling", "scale-job"]
}

# Operator read: the autoscaler checks the cluster's scheduler
# configuration and leadership before it acts.
operator {
  policy = "read"
}

# Node write: its Nomad APM plugin sums node resources to compute usage,
# and cluster scaling (aws-asg) drains and purges client nodes before their
# instances are terminated.
node {
  policy = "write"
}
