package vaultpolicies

import (
	"strings"
	"testing"
)

func TestNomadWorkloadsOneBlockPerMount(t *testing.T) {
	p := NomadWorkloads("auth_jwt_123", []string{"pg-orders", "database", "pg-orders"})
	for _, want := range []string{
		`path "database/creds/{{identity.entity.aliases.auth_jwt_123.metadata.nomad_job_id}}"`,
		`path "pg-orders/creds/{{identity.entity.aliases.auth_jwt_123.metadata.nomad_job_id}}"`,
	} {
		if strings.Count(p, want) != 1 {
			t.Errorf("policy has %d of %s:\n%s", strings.Count(p, want), want, p)
		}
	}
	if strings.Contains(p, "DATABASE_MOUNT") || strings.Contains(p, "AUTH_METHOD_ACCESSOR") {
		t.Errorf("placeholder left in the policy:\n%s", p)
	}
	if NomadWorkloads("a", nil) != NomadWorkloads("a", []string{"database"}) {
		t.Error("no mounts should mean the default mount, database")
	}
}

func TestNomadWorkloadsOwnKV(t *testing.T) {
	p := NomadWorkloads("auth_jwt_1", []string{"a", "b"})
	for _, want := range []string{
		`path "kv/data/hstack/{{identity.entity.aliases.auth_jwt_1.metadata.nomad_job_id}}"`,
		`path "kv/data/hstack/{{identity.entity.aliases.auth_jwt_1.metadata.nomad_job_id}}/*"`,
	} {
		if strings.Count(p, want) != 1 {
			t.Errorf("policy has %d of %s:\n%s", strings.Count(p, want), want, p)
		}
	}
	if strings.Count(p, "# Vault policy for Nomad workloads") != 1 {
		t.Errorf("header repeated:\n%s", p)
	}
}
