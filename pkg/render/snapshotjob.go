package render

import (
	"time"

	nomadapi "github.com/hashicorp/nomad/api"

	"github.com/hstack-dev/hstack/pkg/stackfile"
)

// SnapshotJobName is the Nomad job ID of the periodic cluster snapshot.
const SnapshotJobName = "hstack-snapshot"

// SnapshotSchedule is when the periodic snapshot runs (UTC): hourly, at a
// minute that avoids the top of the hour, when cron jobs crowd.
const SnapshotSchedule = "17 * * * *"

// HstackImage is the container image with the hstack binary, published
// with each release.
const HstackImage = "ghcr.io/hstack-dev/hstack"

// snapshotJob runs `hstack snapshot save --upload` on a schedule: Nomad,
// Consul and Vault state into one set, copied to the bucket (Terraform
// output snapshot_bucket). Its tokens come from Vault with the job's
// workload identity: Vault's own for the task, Nomad's and Consul's from
// their secrets engines (roles named snapshot; docs/runbooks.md).
func snapshotJob(st *stackfile.Stack, opts Options) *nomadapi.Job {
	version := opts.Version
	if version == "" {
		version = "latest"
	}
	task := &nomadapi.Task{
		Name:   "save",
		Driver: "docker",
		User:   "65534:65534",
		Config: map[string]any{
			"image": HstackImage + ":" + version,
			"args": []any{"snapshot", "save", "--out", "${NOMAD_ALLOC_DIR}/data/snapshots",
				"--upload", "s3://" + opts.SnapshotBucket + "/" + st.Name},
			// The host's network: the upload to S3 takes the instance
			// role's credentials from IMDSv2, whose hop limit of 1 (the
			// fleet module) a bridged container cannot reach.
			"network_mode":    "host",
			"readonly_rootfs": true,
			"cap_drop":        []any{"ALL"},
			"security_opt":    []any{"no-new-privileges"},
		},
		Env: map[string]string{
			"NOMAD_ADDR":       "https://nomad.service.consul:4646",
			"CONSUL_HTTP_ADDR": "https://consul.service.consul:8501",
			"VAULT_ADDR":       "https://vault.service.consul:8200",
		},
		Vault: &nomadapi.Vault{Role: "hstack-snapshot", Env: ptr(true), ChangeMode: ptr("noop")},
		Templates: []*nomadapi.Template{{
			EmbeddedTmpl: ptr(`{{ with secret "nomad/creds/snapshot" }}NOMAD_TOKEN={{ .Data.secret_id }}{{ end }}
{{ with secret "consul/creds/snapshot" }}CONSUL_HTTP_TOKEN={{ .Data.token }}{{ end }}
`),
			DestPath:   ptr("secrets/tokens.env"),
			Envvars:    ptr(true),
			Perms:      ptr("0600"),
			ChangeMode: ptr("noop"),
		}},
		Resources:   &nomadapi.Resources{CPU: ptr(200), MemoryMB: ptr(128), MemoryMaxMB: ptr(512)},
		KillTimeout: ptr(30 * time.Second),
	}
	return &nomadapi.Job{
		ID:          ptr(SnapshotJobName),
		Name:        ptr(SnapshotJobName),
		Type:        ptr("batch"),
		Region:      ptr(st.Region),
		Namespace:   ptr(st.Namespace),
		Datacenters: append([]string(nil), st.Datacenters...),
		Meta:        stackMeta(st),
		Periodic: &nomadapi.PeriodicConfig{
			Enabled: ptr(true), SpecType: ptr("cron"), Spec: ptr(SnapshotSchedule),
			ProhibitOverlap: ptr(true), TimeZone: ptr("UTC"),
		},
		TaskGroups: []*nomadapi.TaskGroup{{
			Name:  ptr("save"),
			Count: ptr(1),
			// A failed run is retried once in place; the next hour's run is
			// the real retry, and the alert on the job's failures tells a human.
			RestartPolicy: &nomadapi.RestartPolicy{Attempts: ptr(1), Interval: ptr(30 * time.Minute), Delay: ptr(time.Minute), Mode: ptr("fail")},
			Tasks:         []*nomadapi.Task{task},
		}},
	}
}
