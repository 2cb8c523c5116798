package pingapp

import (
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestParseOptionsDefaultsAndPrecedence(t *testing.T) {
	o, err := ParseOptions(nil, env("DATABASE_URL", "host=h"), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != DefaultListen || o.Drain != DefaultDrain || o.DatabaseURL != "host=h" || o.Faults.Any() {
		t.Errorf("defaults: %+v", o)
	}

	e := env("LISTEN_ADDR", "0.0.0.0:9", "SHUTDOWN_DRAIN", "2s",
		"DATABASE_URL_FILE", " /secrets/db \n", "DATABASE_URL", "host=h",
		"FAULT_ERROR_RATE", "0.25", "FAULT_LATENCY", "150ms", "FAULT_FAIL_HEALTH", "true", "FAULT_CRASH", "0")
	o, err = ParseOptions(nil, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := Options{Listen: "0.0.0.0:9", Drain: 2 * time.Second, DatabaseURLFile: "/secrets/db", DatabaseURL: "host=h",
		Faults: Faults{ErrorRate: 0.25, Latency: 150 * time.Millisecond, FailHealth: true}}
	if o != want {
		t.Errorf("from env: got %+v, want %+v", o, want)
	}

	// Flags win over the environment, as Nomad passes -listen ${NOMAD_ADDR_http}.
	o, err = ParseOptions([]string{"-listen", "10.0.0.1:23456", "-drain", "0s"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != "10.0.0.1:23456" || o.Drain != 0 {
		t.Errorf("flags: %+v", o)
	}
}

func TestParseOptionsErrorsNameTheVariable(t *testing.T) {
	db := []string{"DATABASE_URL", "host=h"}
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{env: nil, want: "DATABASE_URL_FILE or DATABASE_URL"},
		{env: []string{"SHUTDOWN_DRAIN", "5"}, want: "SHUTDOWN_DRAIN"},
		{env: []string{"SHUTDOWN_DRAIN", "-1s"}, want: "SHUTDOWN_DRAIN"},
		{env: append([]string{"FAULT_ERROR_RATE", "lots"}, db...), want: "FAULT_ERROR_RATE"},
		{env: append([]string{"FAULT_ERROR_RATE", "1.01"}, db...), want: "FAULT_ERROR_RATE"},
		{env: append([]string{"FAULT_ERROR_RATE", "-0.1"}, db...), want: "FAULT_ERROR_RATE"},
		{env: append([]string{"FAULT_ERROR_RATE", "NaN"}, db...), want: "FAULT_ERROR_RATE"},
		{env: append([]string{"FAULT_LATENCY", "100"}, db...), want: "FAULT_LATENCY"},
		{env: append([]string{"FAULT_LATENCY", "-5ms"}, db...), want: "FAULT_LATENCY"},
		{env: append([]string{"FAULT_FAIL_HEALTH", "maybe"}, db...), want: "FAULT_FAIL_HEALTH"},
		{env: append([]string{"FAULT_CRASH", "yes"}, db...), want: "FAULT_CRASH"},
		{args: []string{"-drain", "-1s"}, env: db, want: "-drain"},
		{args: []string{"-listen", ""}, env: db, want: "-listen"},
		{args: []string{"extra"}, env: db, want: "unexpected arguments"},
	} {
		_, err := ParseOptions(tc.args, env(tc.env...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("args %q env %q: err = %v, want mention of %q", tc.args, tc.env, err, tc.want)
		}
	}
}

func TestParseOptionsVersionAndHelp(t *testing.T) {
	// -version must work without any database configured.
	o, err := ParseOptions([]string{"-version"}, env(), io.Discard)
	if err != nil || !o.ShowVersion {
		t.Errorf("-version: %+v, %v", o, err)
	}
	var out strings.Builder
	if _, err := ParseOptions([]string{"-h"}, env(), &out); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: err = %v", err)
	}
	for _, s := range []string{"-listen", "LISTEN_ADDR", "-drain", "SHUTDOWN_DRAIN"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("usage lacks %q:\n%s", s, out.String())
		}
	}
}
