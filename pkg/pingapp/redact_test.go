package pingapp

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct {
		dsn, want string
		secrets   []string
	}{
		{
			dsn:     "host=127.0.0.1 port=5432 dbname=postgres user=v-x password=s3cr3t sslmode=disable",
			want:    "host=127.0.0.1 port=5432 dbname=postgres user=v-x password=REDACTED sslmode=disable",
			secrets: []string{"s3cr3t"},
		},
		{
			dsn:     "user = 'v x'\n  password = se\\ cret\n",
			want:    "user='v x' password=REDACTED",
			secrets: []string{"se cret"},
		},
		{
			dsn:     `password='a b\'c' host=h`,
			want:    `password=REDACTED host=h`,
			secrets: []string{`a b'c`},
		},
		{
			dsn:     "postgres://v-x:p%40ss@db:5432/app?sslmode=disable",
			want:    "postgres://v-x:REDACTED@db:5432/app?sslmode=disable",
			secrets: []string{"p@ss"},
		},
		{
			dsn:     "postgresql://db/app?user=u&password=hunter22",
			want:    "postgresql://db/app?password=REDACTED&user=u",
			secrets: []string{"hunter22"},
		},
		{dsn: "host=h user=u", want: "host=h user=u"},
		{dsn: "host=h password='unterminated", want: "[unparseable connection string]"},
		{dsn: "garbage password", want: "[unparseable connection string]"},
	} {
		got, secrets := redactDSN(tc.dsn)
		if got != tc.want || !slices.Equal(secrets, tc.secrets) {
			t.Errorf("redactDSN(%q) = %q, %q; want %q, %q", tc.dsn, got, secrets, tc.want, tc.secrets)
		}
	}
}

func TestScrubAndInnermost(t *testing.T) {
	inner := errors.New("FATAL: password authentication failed for user \"v-x\" (token p@ss/1)")
	err := fmt.Errorf("failed to connect to `user=v-x database=app`: %w", inner)
	got := scrub(innermost(err).Error(), []string{"p@ss/1"})
	want := "FATAL: password authentication failed for user \"v-x\" (token REDACTED)"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got := innermost(fmt.Errorf("connect: %w", errors.Join(fmt.Errorf("dial: %w", inner)))); got != inner {
		t.Errorf("innermost through a join of one = %v", got)
	}
	two := errors.Join(errors.New("a"), errors.New("b"))
	if got := innermost(fmt.Errorf("connect: %w", two)); got != two {
		t.Errorf("innermost through a join of two = %v", got)
	}
	if got := scrub("dsn p%40ss%2F1", []string{"p@ss/1"}); got != "dsn REDACTED" {
		t.Errorf("escaped secret not scrubbed: %q", got)
	}
	if got := oneLine("a\n  b\t" + strings.Repeat("x", 300)); len(got) != 203 || !strings.HasPrefix(got, "a b x") {
		t.Errorf("oneLine = %q", got)
	}
}
