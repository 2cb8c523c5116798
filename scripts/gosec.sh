#!/usr/bin/env bash
# gosec, the Go security scanner, at the version pinned in
# pkg/tools/versions.env (built once from the Go module proxy by
# scripts/tools.sh gosec), run over the whole module, tests included (test
# code handles secrets too). Any finding fails. A finding that is not a
# problem carries a `// #nosec Gxxx -- why` comment at its line; gosec is told
# to ignore a #nosec that names no rule or gives no reason, so every exception
# is explained where it is.
#
# The only exclusions are a few rules for test code, below, each with its
# reason. HSTACK_GOSEC_BIN names a binary to use instead (the Go test that
# runs this script passes the one pkg/tools found); GOSEC_MODULE a module to
# scan instead of this one (that test's planted findings). Extra arguments go
# to gosec (e.g. -fmt json -out report.json).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${HSTACK_GOSEC_BIN:-}
if [[ -z "$bin" ]]; then
  bin="$("$here/tools.sh" --print-path gosec)/gosec"
fi

# Test code: the Go test files, and the packages only tests import
# (devstacktest, pgservertest, browsertest). Rules that do not apply there,
# and why. G104 (unchecked errors) and the crypto, TLS and SQL rules still do.
tests='(_test\.go|/devstacktest/[^/]*\.go|/pgservertest/[^/]*\.go|/browsertest/[^/]*\.go)$'
test_rules=(
  # Hard-coded credentials: the fixtures are fake secrets planted on purpose,
  # for the redaction and leak tests to find (a real secret in a test would
  # also be caught by review; these are all made up).
  G101
  # Subprocess with variable arguments: integration tests run the real tools
  # (nomad, vault, terraform, packer, trivy, the hstack binary they built),
  # located by pkg/tools, with arguments the test itself builds.
  G204 G702
  # Permissions of files and directories: tests write fixtures into
  # t.TempDir() (mode 0700, removed after the test), so their modes protect
  # nothing; executables they write must be 0755 to run.
  G301 G302 G306
  # File paths from variables: a test reads and writes only its own temp
  # directories and the repository's fixtures; no input crosses a trust
  # boundary. G122 is the same for filepath.Walk callbacks, G703 the taint
  # form of G304.
  G304 G122 G703
  # Requests to a variable URL and unescaped writes to a ResponseWriter: the
  # URLs are loopback servers the test started; the handlers are the test's
  # own fakes, read by the test, never by a browser.
  G107 G705
  # Slice index out of range: the key/value pair helpers (kv[i], kv[i+1])
  # take literal pairs from the test itself.
  G602
)
exclude_rules="$tests:$(IFS=,; echo "${test_rules[*]}")"

cd "${GOSEC_MODULE:-$here/..}"
# The AI autofix is off (no network).
exec "$bin" -quiet -tests -exclude-generated \
  -nosec-require-rules -nosec-require-justification \
  -exclude-rules "$exclude_rules" \
  -fmt text "$@" ./...
