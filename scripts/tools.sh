#!/usr/bin/env bash
# Provide pinned Nomad, Consul, Vault, Terraform and Packer binaries.
#
# A binary of the pinned version already on PATH is used as is. Otherwise the
# release is built from the Go module proxy into
# ${HSTACK_CACHE:-~/.cache/hstack}/tools/<name>-<version>/<name>, once: later
# runs find it there. Releases replace their nested modules (./api, ./sdk) with
# local paths the module zip does not carry, so the module is copied, those
# replace lines dropped (Nomad's api is pinned to a proxy pseudo-version), and
# then built.
#
# Usage: scripts/tools.sh [--print-path] [nomad consul vault terraform packer]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../pkg/tools/versions.env
source "$here/../pkg/tools/versions.env"

cache=${HSTACK_CACHE:-$HOME/.cache/hstack}
export GOFLAGS="-buildvcs=false -mod=mod"
export GOTOOLCHAIN=local

print_path=0
tools=()
for a in "$@"; do
  case $a in
    --print-path) print_path=1 ;;
    nomad|consul|vault|terraform|packer) tools+=("$a") ;;
    *) echo "tools.sh: unknown tool '$a' (want nomad, consul, vault, terraform or packer)" >&2; exit 2 ;;
  esac
done
[ ${#tools[@]} -gt 0 ] || tools=(nomad consul vault terraform packer)

version_of() {
  case $1 in
    nomad) echo "$NOMAD_VERSION" ;; consul) echo "$CONSUL_VERSION" ;;
    vault) echo "$VAULT_VERSION" ;; terraform) echo "$TERRAFORM_VERSION" ;;
    packer) echo "$PACKER_VERSION" ;;
  esac
}

module_of() {
  case $1 in
    terraform) echo github.com/hashicorp/terraform ;;
    *) echo "github.com/hashicorp/$1" ;;
  esac
}

# on_path prints a binary on PATH that is compatible with the pinned version.
on_path() {
  local name=$1 want=$2 bin out
  bin=$(command -v "$name" 2>/dev/null) || bin=""
  if [ -z "$bin" ] && [ "$name" = terraform ]; then
    bin=$(command -v tofu 2>/dev/null) || return 1
  fi
  [ -n "$bin" ] || return 1
  out=$(TF_CLI_CONFIG_FILE=/dev/null "$bin" version 2>/dev/null | head -1) || return 1
  case $name in
    # Terraform-compatible: any terraform/tofu 1.5 or later speaks the same HCL.
    terraform) [[ $out =~ v1\.([5-9]|[1-9][0-9])\. ]] || return 1 ;;
    *) [[ $out == *"v$want"* ]] || return 1 ;;
  esac
  echo "$bin"
}

build() {
  local name=$1 ver=$2 dest=$3 mod src work pkg=. start
  mod=$(module_of "$name")
  start=$(date +%s)
  src=$(go mod download -json "$mod@v$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "tools.sh: could not download $mod@v$ver from the module proxy" >&2; return 1; }
  work="$cache/build/$name-$ver"
  rm -rf "$work"; mkdir -p "$work"
  cp -r "$src/." "$work/"; chmod -R u+w "$work"
  (
    cd "$work"
    # Drop every replace that points at a local directory.
    for old in $(go mod edit -json | awk '
        /"Old":/ {inold=1} /"New":/ {inold=0; innew=1}
        inold && /"Path":/ {gsub(/[",]/,""); old=$2}
        innew && /"Path":/ {gsub(/[",]/,""); if ($2 ~ /^\./) print old; innew=0}'); do
      go mod edit -dropreplace="$old"
    done
    case $name in
      nomad) go mod edit -require="github.com/hashicorp/nomad/api@$NOMAD_API_VERSION" ;;
      terraform) ;;
    esac
    go build -trimpath -o "$dest.tmp" "$pkg"
  )
  mv "$dest.tmp" "$dest"
  rm -rf "$work"
  echo "built in $(( $(date +%s) - start ))s"
}

bindir_all=()
for name in "${tools[@]}"; do
  ver=$(version_of "$name")
  dir="$cache/tools/$name-$ver"
  bin="$dir/$name"
  if existing=$(on_path "$name" "$ver"); then
    found=$(TF_CLI_CONFIG_FILE=/dev/null "$existing" version 2>/dev/null | head -1)
    echo "$name: using $existing ($found; pinned $ver)" >&2
    bindir_all+=("$(dirname "$existing")")
    continue
  fi
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [ -x "$bin" ]; then
    echo "$name $ver: cached at $bin" >&2
  else
    echo "$name $ver: building from the Go module proxy (a few minutes)..." >&2
    log="$dir/build.log"
    if ! msg=$(build "$name" "$ver" "$bin" 2>"$log"); then
      echo "$name $ver: build failed; last lines of $log:" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    echo "$name $ver: $msg, at $bin" >&2
  fi
  exec 9>&-
  bindir_all+=("$dir")
done

if [ $print_path = 1 ]; then
  (IFS=:; echo "${bindir_all[*]}")
fi
