package workloadid

import (
	"encoding/base64"
	"strings"
	"testing"
)

func TestJobID(t *testing.T) {
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, tc := range []struct{ jwt, job, err string }{
		{"h." + enc(`{"nomad_job_id":"pingapp","aud":"vault.io"}`) + ".sig\n", "pingapp", ""},
		{"h." + enc(`{"sub":"x"}`) + ".sig", "", "no nomad_job_id claim"},
		{"not-a-jwt", "", "not a JWT"},
		{"h.!!!.sig", "", "JWT payload"},
	} {
		job, err := JobID(tc.jwt)
		if job != tc.job || (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("JobID(%q) = %q, %v; want %q, %q", tc.jwt, job, err, tc.job, tc.err)
		}
	}
}
