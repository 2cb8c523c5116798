package cli

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/devstack"
)

func devCertsCommand() *cli.Command {
	return &cli.Command{
		Name:  "certs",
		Usage: "issue a cluster's CA, agent certificates and gossip keys for hosts hstack does not start (the Vagrant VMs)",
		Description: "Writes DIR/nodes/NAME/{tls/,gossip.key,nomad-gossip.key}, which scripts/provision takes as --tls-dir,\n" +
			"--gossip-key-file and --nomad-gossip-key-file, the CLI's certificate DIR/cli.pem, and DIR/cluster.env\n" +
			"(addresses and certificate paths, no tokens) to source on the host. The CA key stays in DIR/ca-key.pem\n" +
			"(0600): a second run reuses it and issues only the nodes that have no certificates yet. Prints no secret.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "out", Usage: "`DIR` for the secrets (keep it out of git)", Required: true},
			&cli.StringSliceFlag{Name: "server", Usage: "a server node as `NAME=IP` (Consul server, Nomad server, Vault); repeatable"},
			&cli.StringSliceFlag{Name: "client", Usage: "a client node as `NAME=IP` (Consul client, Nomad client); repeatable"},
		},
		Action: devCerts,
	}
}

func devCerts(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	var nodes []devstack.Node
	for _, role := range []string{"server", "client"} {
		for _, v := range c.StringSlice(role) {
			name, addr, ok := strings.Cut(v, "=")
			if !ok || name == "" || addr == "" {
				return UsageErrorf("--%s %q: want NAME=IP", role, v)
			}
			nodes = append(nodes, devstack.Node{Name: name, Address: addr, Server: role == "server", Client: role == "client"})
		}
	}
	if err := devstack.CheckClusterNodes(nodes); err != nil {
		return UsageErrorf("--server/--client: %v", err)
	}
	res, err := devstack.WriteClusterSecrets(c.String("out"), nodes)
	if err != nil {
		return fmt.Errorf("--out %s: %w", c.String("out"), err)
	}
	issued := res.Issued
	if issued == nil {
		issued = []string{}
	}
	what := "every node already had its certificates"
	if len(issued) > 0 {
		what = "issued " + strings.Join(issued, " ")
	}
	return OutputFromContext(c).Emit(map[string]any{"dir": res.Dir, "env_file": res.EnvFile, "issued": issued},
		"%s: %s; source %s", res.Dir, what, res.EnvFile)
}
