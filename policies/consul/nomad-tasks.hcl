# Consul policy "nomad-tasks": the part every Nomad task's Consul token has,
# whatever its job (through the nomad-workloads auth method's binding rule).
#
# Held by: every task, through its workload identity. It lets any task log
# in and resolve node names, and nothing else: a task finds a service or
# reads a key only through the role of its own job (app-<job>), so a task
# without `service "<db>" { policy = "read" }` cannot find the database.
node_prefix "" {
  policy = "read"
}
