package pingapp

import (
	"net/url"
	"strings"
)

const redacted = "REDACTED"

// redactDSN returns a loggable form of a libpq connection string and the
// secrets it contains, so that errors mentioning them can be scrubbed too.
// Anything it cannot make sense of is redacted whole: a garbled string may
// still hold a password.
func redactDSN(dsn string) (safe string, secrets []string) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return redactURL(dsn)
	}
	return redactKeywordValue(dsn)
}

func redactURL(dsn string) (string, []string) {
	u, err := url.Parse(dsn)
	if err != nil {
		return "[unparseable connection URL]", nil
	}
	var secrets []string
	if pw, ok := u.User.Password(); ok {
		secrets = append(secrets, pw)
		u.User = url.UserPassword(u.User.Username(), redacted)
	}
	q := u.Query()
	if pws, ok := q["password"]; ok {
		secrets = append(secrets, pws...)
		q.Set("password", redacted)
		u.RawQuery = q.Encode()
	}
	return u.String(), secrets
}

// redactKeywordValue follows libpq's keyword/value syntax: key = value pairs
// separated by whitespace, values optionally single-quoted, with backslash
// escaping the next character.
func redactKeywordValue(dsn string) (string, []string) {
	var (
		out     []string
		secrets []string
		s       = strings.TrimSpace(dsn)
	)
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return "[unparseable connection string]", secrets
		}
		key := strings.TrimSpace(s[:eq])
		if key == "" || strings.ContainsAny(key, " \t\r\n'\\") {
			return "[unparseable connection string]", secrets
		}
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		raw, val, rest, ok := kvValue(s)
		if !ok {
			return "[unparseable connection string]", secrets
		}
		s = strings.TrimLeft(rest, " \t\r\n")
		if key == "password" {
			secrets = append(secrets, val)
			raw = redacted
		}
		out = append(out, key+"="+raw)
	}
	return strings.Join(out, " "), secrets
}

// kvValue splits one value off s, returning its source text, its unescaped
// value and the remainder.
func kvValue(s string) (raw, val, rest string, ok bool) {
	var b strings.Builder
	if strings.HasPrefix(s, "'") {
		for i := 1; i < len(s); i++ {
			switch s[i] {
			case '\\':
				if i+1 >= len(s) {
					return "", "", "", false
				}
				i++
				b.WriteByte(s[i])
			case '\'':
				return s[:i+1], b.String(), s[i+1:], true
			default:
				b.WriteByte(s[i])
			}
		}
		return "", "", "", false // unterminated quote
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\r', '\n':
			return s[:i], b.String(), s[i:], true
		case '\\':
			if i+1 < len(s) {
				i++
			}
		}
		b.WriteByte(s[i])
	}
	return s, b.String(), "", true
}

// scrub removes secrets from an error message. Drivers try not to echo
// passwords, but a log line is forever, so this does not rely on it.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		msg = strings.ReplaceAll(msg, s, redacted)
		if e := url.QueryEscape(s); e != s {
			msg = strings.ReplaceAll(msg, e, redacted)
		}
		if e := url.PathEscape(s); e != s {
			msg = strings.ReplaceAll(msg, e, redacted)
		}
	}
	return msg
}

// innermost returns the deepest wrapped cause of err. For database errors
// that is what an operator needs ("connection refused", "closed pool", the
// server's message), while the outer layers repeat host and user details
// that do not belong in an HTTP response.
func innermost(err error) error {
	for {
		var next error
		switch e := err.(type) {
		case interface{ Unwrap() error }:
			next = e.Unwrap()
		case interface{ Unwrap() []error }:
			// A join of one, as pgconn makes for a single host. With several
			// causes none is more telling than the others: keep them all.
			if errs := e.Unwrap(); len(errs) == 1 {
				next = errs[0]
			}
		}
		if next == nil {
			return err
		}
		err = next
	}
}

// oneLine makes msg fit a single short response or log line.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	const max = 200
	if len(msg) > max {
		msg = msg[:max] + "..."
	}
	return msg
}
