package cli

import (
	"encoding/json"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/hstack-dev/hstack/pkg/aurora"
	"github.com/hstack-dev/hstack/pkg/stackfile"
	"github.com/hstack-dev/hstack/pkg/tfoutputs"
	"github.com/hstack-dev/hstack/pkg/version"
)

// AuroraClusterIDOutput is the Terraform output, in the database's
// from_terraform_output directory, that names the Aurora cluster.
const AuroraClusterIDOutput = "aurora_cluster_id"

const (
	flagClusterID  = "cluster-id"
	flagSnapshotID = "snapshot-id"
	flagRegion     = "region"
	flagWait       = "wait"
)

func dbSnapshotCommand() *cli.Command {
	return &cli.Command{
		Name:  "snapshot",
		Usage: "take a manual snapshot of an Aurora cluster (AWS SDK, standard credential chain)",
		Description: "The cluster is --cluster-id, or the Terraform output " + AuroraClusterIDOutput + " in the database's\n" +
			"from_terraform_output directory. Automated backups and their retention are Terraform's;\n" +
			"a manual snapshot is kept until deleted. Exit codes: 0 requested (or, with --wait,\n" +
			"available), 1 AWS refused or the wait ran out, 2 bad input.",
		Flags: append(stackFlags(), databaseFlag(),
			&cli.StringFlag{Name: flagClusterID, Category: catDatabase, Usage: "Aurora DB cluster `ID` (default: Terraform output " + AuroraClusterIDOutput + ")"},
			&cli.StringFlag{Name: flagSnapshotID, Category: catDatabase, Usage: "snapshot `ID` (default: <stack>-<database>-manual-<UTC time>)"},
			&cli.StringFlag{Name: flagRegion, Category: catDatabase, EnvVars: []string{"AWS_REGION"}, Usage: "AWS `REGION`"},
			&cli.DurationFlag{Name: flagWait, Category: catDatabase, Usage: "wait up to `DURATION` for the snapshot to be available"},
		),
		Action: dbSnapshot,
	}
}

func dbSnapshot(c *cli.Context) error {
	if err := ExactArgs(c); err != nil {
		return err
	}
	st, err := loadStack(c)
	if err != nil {
		return err
	}
	db, err := oneDatabase(c, st)
	if err != nil {
		return err
	}
	cluster := c.String(flagClusterID)
	if cluster == "" {
		if cluster, err = clusterIDFromTerraform(c, st, db); err != nil {
			return err
		}
	}
	id := c.String(flagSnapshotID)
	if id == "" {
		id = aurora.DefaultSnapshotID(st.Name, db.Name, time.Now())
	}
	if err := aurora.CheckSnapshotID(id); err != nil {
		return UsageErrorf("invalid --%s: %v", flagSnapshotID, err)
	}
	api, err := aurora.NewClient(c.Context, c.String(flagRegion))
	if err != nil {
		return UsageErrorf("AWS: %v", err)
	}
	res, err := aurora.Snapshot(c.Context, api, aurora.Request{
		ClusterID: cluster, SnapshotID: id,
		Tags: map[string]string{"hstack-stack": st.Name, "hstack-database": db.Name, "created-by": "hstack " + version.Version},
	}, c.Duration(flagWait))
	if err != nil {
		return &ExitError{Code: ExitFailure, Err: err}
	}
	return OutputFromContext(c).Emit(res, "snapshot %s of cluster %s: %s", res.SnapshotID, res.ClusterID, res.Status)
}

func oneDatabase(c *cli.Context, st *stackfile.Stack) (*stackfile.Database, error) {
	if name := c.String(flagDatabase); name != "" {
		if db := st.Database(name); db != nil {
			return db, nil
		}
		return nil, UsageErrorf("invalid --%s %q: %s declares %s", flagDatabase, name, st.Filename, declaredDatabases(st))
	}
	if len(st.Databases) != 1 {
		return nil, UsageErrorf("%s declares %s: say which with --%s", st.Filename, declaredDatabases(st), flagDatabase)
	}
	return st.Databases[0], nil
}

func clusterIDFromTerraform(c *cli.Context, st *stackfile.Stack, db *stackfile.Database) (string, error) {
	if db.FromTerraform == nil {
		return "", UsageErrorf("database %q is not built by Terraform (no from_terraform_output block): pass --%s", db.Name, flagClusterID)
	}
	dir := st.Path(db.FromTerraform.Dir)
	outs, err := tfoutputs.Terraform{}.Outputs(c.Context, dir)
	if err != nil {
		return "", UsageErrorf("reading Terraform outputs in %s: %v (or pass --%s)", dir, err, flagClusterID)
	}
	var id string
	if raw, ok := outs[AuroraClusterIDOutput]; !ok || json.Unmarshal(raw, &id) != nil || id == "" {
		return "", UsageErrorf("Terraform in %s has no string output %q (or pass --%s)", dir, AuroraClusterIDOutput, flagClusterID)
	}
	return id, nil
}
