# Nomad ACL policy of the nomad-autoscaler job, attached to its workload
# identity:
#   nomad acl policy apply -namespace default -job nomad-autoscaler autoscaler policies/nomad/autoscaler.hcl
namespace "default" {
  # Read the scaling policies and jobs, and set group counts.
  policy       = "read"
  capabilities = ["scale-job", "read-job", "list-jobs", "read-job-scaling"]
}

# Cluster scaling (aws-asg) drains and purges client nodes before their
# instances are terminated.
node {
  policy = "write"
}

operator {
  policy = "read"
}
