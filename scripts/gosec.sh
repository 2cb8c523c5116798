#!/usr/bin/env bash
# gosec, the Go security scanner, at a pinned version: built once from the Go
# module proxy into the tool cache, then run over the whole module. Any
# finding fails; a finding that is not a problem carries a `#nosec Gxxx --
# why` comment at its line, so every exception is explained where it is.
set -euo pipefail
GOSEC_VERSION=v2.30.0
cache="${HSTACK_CACHE:-$HOME/.cache/hstack}/tools/gosec-${GOSEC_VERSION#v}"
bin="$cache/gosec"
if [[ ! -x "$bin" ]]; then
  mkdir -p "$cache"
  echo "gosec $GOSEC_VERSION: building from the Go module proxy (a few minutes)..." >&2
  GOBIN="$cache" GOFLAGS=-buildvcs=false go install "github.com/securego/gosec/v2/cmd/gosec@$GOSEC_VERSION"
fi
cd "$(dirname "$0")/.."
# -tests: test code handles secrets too. The AI autofix is off (no network).
exec "$bin" -quiet -tests -exclude-generated -fmt text "$@" ./...
