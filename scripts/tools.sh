#!/usr/bin/env bash
# Provide the pinned tools hstack builds, tests and runs against.
#
# A binary of the pinned version already on PATH is used as is. Otherwise the
# release is built from the Go module proxy into
# ${HSTACK_CACHE:-~/.cache/hstack}/tools/<name>-<version>/<name>, once: later
# runs find it there. Releases replace their nested modules (./api, ./sdk) with
# local paths the module zip does not carry, so the module is copied, those
# replace lines dropped (Nomad's api is pinned to a proxy pseudo-version), and
# then built. recipe() below is the one table of what each tool is.
#
# The AWS provider (aws-provider) is built with only the service packages
# listed in pkg/tools/aws-provider-services.txt, and laid out as a
# Terraform/OpenTofu filesystem mirror with a CLI config beside it
# (<cache>/tools/aws-provider-<version>-<list hash>/terraformrc).
#
# Terraform: a terraform 1.7 or later (or tofu 1.8 or later) on PATH is used;
# older ones cannot run `terraform test` with mock_provider, so OpenTofu
# (OPENTOFU_VERSION) is built instead, into <cache>/tools/opentofu-<version>/tofu.
#
# A cached binary is asked for its version before it is used; one that no
# longer runs (truncated, wrong architecture) is built again.
#
# nomad-ui is the same Nomad with its web UI embedded: the Ember app in the
# module's ui/ folder is built with Node and pnpm from the npm registry,
# embedded with Nomad's own static-assets step and compiled with the `ui` build
# tag, into <cache>/tools/nomad-ui-<version>/nomad (with the built ui/dist
# beside it, which tests compare with what the agent serves). pkg/tools.Find
# prefers it over the plain build when present. See build_nomad_ui.
#
# alertmanager-ui is Alertmanager's web UI for the dev stack, whose Debian
# Alertmanager has none: the compiled UI the Alertmanager release embeds
# (asset/assets_vfsdata.go in its module) written out to
# <cache>/tools/alertmanager-ui-<version>/ui, for --web.ui-path.
#
# Usage: scripts/tools.sh [--print-path] [TOOL...]
#   TOOL: nomad consul vault terraform packer aws-provider trivy
#         nomad-ui alertmanager-ui nomad-autoscaler actionlint goreleaser syft gosec
#         (default: the first seven)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../pkg/tools/versions.env
source "$here/../pkg/tools/versions.env"

cache=${HSTACK_CACHE:-$HOME/.cache/hstack}
export GOFLAGS="-buildvcs=false -mod=mod"
export GOTOOLCHAIN=local

all_tools="nomad consul vault terraform packer aws-provider trivy nomad-ui alertmanager-ui nomad-autoscaler actionlint goreleaser syft gosec"

# recipe NAME sets what a tool is: ver (the pinned version), mod and modver
# (the Go module to build), pkg (its main package), goexp (GOEXPERIMENT for
# the build), tags (build tags), exe (the binary's name) and vercmd (the argument that makes it print its version, for
# the check that a cached binary still runs). It fails for an unknown tool.
recipe() {
  pkg=. goexp="" tags="" exe=$1 vercmd=version mod="github.com/hashicorp/$1"
  case $1 in
    nomad) ver=$NOMAD_VERSION ;;
    # The UI build is Nomad itself, named nomad, so it drops in for the plain one.
    nomad-ui) ver=$NOMAD_VERSION mod=github.com/hashicorp/nomad tags=ui exe=nomad ;;
    alertmanager-ui) ver=$ALERTMANAGER_UI_VERSION mod=github.com/prometheus/alertmanager ;;
    consul) ver=$CONSUL_VERSION ;;
    vault) ver=$VAULT_VERSION ;;
    terraform) ver=$TERRAFORM_VERSION ;;
    opentofu) ver=$OPENTOFU_VERSION mod=github.com/opentofu/opentofu pkg=./cmd/tofu ;;
    packer) ver=$PACKER_VERSION ;;
    aws-provider) ver=$AWS_PROVIDER_VERSION mod=github.com/hashicorp/terraform-provider-aws ;;
    # Trivy v0.74 uses encoding/json/v2, still behind GOEXPERIMENT in Go 1.26.
    trivy) ver=$TRIVY_VERSION mod=github.com/aquasecurity/trivy pkg=./cmd/trivy goexp=jsonv2 ;;
    nomad-autoscaler) ver=$NOMAD_AUTOSCALER_VERSION ;;
    actionlint) ver=$ACTIONLINT_VERSION mod=github.com/rhysd/actionlint pkg=./cmd/actionlint vercmd=-version ;;
    goreleaser) ver=$GORELEASER_VERSION mod=github.com/goreleaser/goreleaser/v2 vercmd=--version ;;
    syft) ver=$SYFT_VERSION mod=github.com/anchore/syft pkg=./cmd/syft ;;
    gosec) ver=$GOSEC_VERSION mod=github.com/securego/gosec/v2 pkg=./cmd/gosec vercmd=-version ;;
    *) return 1 ;;
  esac
  modver=v$ver
  [ "$1" = aws-provider ] && modver=$AWS_PROVIDER_MODULE_VERSION
  return 0
}

print_path=0
tools=()
for a in "$@"; do
  case $a in
    --print-path) print_path=1 ;;
    -*) echo "tools.sh: unknown option '$a'" >&2; exit 2 ;;
    *) recipe "$a" || { echo "tools.sh: unknown tool '$a' (want one of: $all_tools)" >&2; exit 2; }
       tools+=("$a") ;;
  esac
done
[ ${#tools[@]} -gt 0 ] || tools=(nomad consul vault terraform packer aws-provider trivy)

# first_line_of_version BIN [ARG] prints the first line of `BIN version` (or
# `BIN ARG`). The whole
# output is read before it is cut: piping into `head -1` under pipefail dies
# with SIGPIPE (exit 141) whenever the tool is still writing when head exits.
first_line_of_version() {
  local out
  out=$(TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 "$1" "${2:-version}" 2>/dev/null) || return 1
  printf '%s\n' "${out%%$'\n'*}"
}

# terraform_ok says whether the first line of `terraform version` (or `tofu
# version`) names a release that runs `terraform test` with mock_provider:
# Terraform 1.7 or later, OpenTofu 1.8 or later.
terraform_ok() {
  [[ $1 =~ ^(Terraform|OpenTofu)\ v([0-9]+)\.([0-9]+)\. ]] || return 1
  local major=${BASH_REMATCH[2]} minor=${BASH_REMATCH[3]} least=7
  [ "${BASH_REMATCH[1]}" = OpenTofu ] && least=8
  (( major > 1 || (major == 1 && minor >= least) ))
}

# on_path prints a binary on PATH that is compatible with the pinned version.
on_path() {
  local name=$1 want=$2 bin out
  bin=$(command -v "$name" 2>/dev/null) || bin=""
  if [ -z "$bin" ] && [ "$name" = terraform ]; then
    bin=$(command -v tofu 2>/dev/null) || return 1
  fi
  [ -n "$bin" ] || return 1
  out=$(first_line_of_version "$bin") || return 1
  case $name in
    terraform) terraform_ok "$out" || return 1 ;;
    *) [[ $out == *"v$want"* ]] || return 1 ;;
  esac
  echo "$bin"
}

# build NAME DEST builds the tool recipe() describes into DEST.
build() {
  local name=$1 dest=$2 src work start
  recipe "$name"
  start=$(date +%s)
  src=$(go mod download -json "$mod@$modver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "tools.sh: could not download $mod@$modver from the module proxy" >&2; return 1; }
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
      nomad|nomad-ui) go mod edit -require="github.com/hashicorp/nomad/api@$NOMAD_API_VERSION" ;;
      aws-provider) keep_services "$work" ;;
    esac
    # Its output is the build log; stdout is the one-line result.
    [ "$name" = nomad-ui ] && build_nomad_ui "$(dirname "$dest")" >&2
    GOEXPERIMENT=$goexp go build -trimpath -tags "$tags" -o "$dest.tmp" "$pkg"
  )
  mv "$dest.tmp" "$dest"
  rm -rf "$work"
  echo "built in $(( $(date +%s) - start ))s"
}

# shellcheck disable=SC2317 # called from keep_services and the main loop; shellcheck loses track after the heredoc above
services_list() { grep -v '^[[:space:]]*\(#\|$\)' "$here/../pkg/tools/aws-provider-services.txt"; }

# keep_services rewrites the provider's generated list of service packages
# in WORK to register only those in aws-provider-services.txt.
keep_services() {
  local work=$1 keep gen s
  keep=$(services_list | tr '\n' ' ')
  gen="$work/internal/provider/sdkv2/service_packages_gen.go"
  for s in $keep; do
    [ -d "$work/internal/service/$s" ] || { echo "tools.sh: aws-provider-services.txt names '$s', which the provider does not have" >&2; return 1; }
  done
  # Keep an import or a list entry only when its service is listed.
  awk -v keep=" $keep " '
    match($0, /internal\/service\/[a-z0-9]+"$/) { s = substr($0, RSTART + 17, RLENGTH - 18); if (index(keep, " " s " ")) print; next }
    match($0, /^\t\t[a-z0-9]+\.ServicePackage\(ctx\),$/) { s = $1; sub(/\..*/, "", s); if (index(keep, " " s " ")) print; next }
    { print }' "$gen" > "$gen.new"
  mv "$gen.new" "$gen"
}

# write_mirror lays the provider binary in DIR out as a filesystem mirror
# that both Terraform (registry.terraform.io/...) and OpenTofu
# (registry.opentofu.org/...) read, and writes a CLI config pointing at it.
write_mirror() {
  local dir=$1
  mkdir -p "$dir/mirror/registry.opentofu.org/hashicorp"
  ln -sfn ../../registry.terraform.io/hashicorp/aws "$dir/mirror/registry.opentofu.org/hashicorp/aws"
  cat > "$dir/terraformrc" <<RC
# Written by scripts/tools.sh: Terraform and OpenTofu install hashicorp/aws
# from this mirror and never ask a registry.
provider_installation {
  filesystem_mirror {
    path    = "$dir/mirror"
    include = ["registry.terraform.io/hashicorp/aws", "registry.opentofu.org/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws", "registry.opentofu.org/hashicorp/aws"]
  }
}
RC
}

# build_nomad_ui builds the Ember app in ./ui (the current directory is a copy
# of the Nomad module) and embeds it the way Nomad's GNUmakefile does
# (ember-dist, then static-assets), leaving command/agent/bindata_assetfs.go
# for `go build -tags ui`; the built ui/dist is kept in $1/dist.
#
# The UI's dependencies are installed from the lockfile the release ships, with
# the fewest changes this machine's npm registry needs:
#  - @hashicorp/design-system-components 4.13.0 -> 4.19.0: the registry serves
#    no 4.13.0 (it has 4.19.0, 4.20.2, ...); 4.19.0 is the nearest later 4.x.
#  - eslint-plugin-ember-a11y-testing dropped: a lint-only devDependency that is
#    a GitHub tarball (codeload.github.com), which is not reachable; the
#    production build does not run eslint.
# Because package.json changes, the install is --no-frozen-lockfile: pnpm keeps
# every other locked version and resolves only what those two changes touch.
# Nomad pins go-bindata to a hashicorp/go-bindata commit the Go proxy does not
# serve; go-bindata/go-bindata v3.1.2 is the upstream it forked and takes the
# same flags. go-bindata-assetfs v1.0.1 is the version Nomad's go.mod requires.
build_nomad_ui() {
  local keep=$1 tbin pnpm
  tbin="$cache/tools/pnpm-$PNPM_VERSION"
  pnpm="$tbin/node_modules/.bin/pnpm"
  command -v node >/dev/null || { echo "tools.sh: nomad-ui needs Node.js 20 (Debian: apt-get install nodejs npm)" >&2; return 1; }
  [ -x "$pnpm" ] || npm install --no-audit --no-fund --prefix "$tbin" "pnpm@$PNPM_VERSION"
  (
    cd ui
    npm pkg set "devDependencies.@hashicorp/design-system-components=4.19.0"
    npm pkg delete "devDependencies.eslint-plugin-ember-a11y-testing"
  )
  # The store outlives the build directory: a second build reuses the packages.
  nice -n 10 "$pnpm" install --no-frozen-lockfile --fetch-timeout 300000 \
    --store-dir "$cache/build/pnpm-store" --reporter append-only
  nice -n 10 "$pnpm" -F nomad-ui build
  GOFLAGS='' GOBIN="$PWD/.bindata-bin" go install github.com/go-bindata/go-bindata/go-bindata@v3.1.2+incompatible
  GOFLAGS='' GOBIN="$PWD/.bindata-bin" go install github.com/elazarl/go-bindata-assetfs/go-bindata-assetfs@v1.0.1
  PATH="$PWD/.bindata-bin:$PATH" go-bindata-assetfs -pkg agent -prefix ui -modtime 1480000000 -tags ui \
    -o bindata_assetfs.go ./ui/dist/...
  mv bindata_assetfs.go command/agent/
  rm -rf "$keep/dist"; cp -r ui/dist "$keep/dist"
}

# build_alertmanager_ui writes the web UI compiled into Alertmanager's
# release (a generated, stdlib-only Go file in its module) to $2; only that
# file is compiled, so nothing else of Alertmanager is needed.
build_alertmanager_ui() {
  local ver=$1 dest=$2 src work
  src=$(go mod download -json "github.com/prometheus/alertmanager@v$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$src" ] || { echo "tools.sh: could not download github.com/prometheus/alertmanager@v$ver" >&2; return 1; }
  work="$cache/build/alertmanager-ui-$ver"
  rm -rf "$work"; mkdir -p "$work/asset"
  cp "$src/asset/assets_vfsdata.go" "$work/asset/"
  printf 'module amui\n\ngo 1.21\n' > "$work/go.mod"
  cat > "$work/main.go" <<'GO'
// Command amui writes the files of Alertmanager's embedded web UI to a
// directory.
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"path"
	"path/filepath"

	"amui/asset"
)

func main() {
	if err := copyDir(asset.Assets, "/static", os.Args[1]); err != nil {
		log.Fatal(err)
	}
}

func copyDir(fs http.FileSystem, dir, dest string) error {
	f, err := fs.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	infos, err := f.Readdir(-1)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	for _, fi := range infos {
		src, dst := path.Join(dir, fi.Name()), filepath.Join(dest, fi.Name())
		if fi.IsDir() {
			if err := copyDir(fs, src, dst); err != nil {
				return err
			}
			continue
		}
		in, err := fs.Open(src)
		if err != nil {
			return err
		}
		out, err := os.Create(dst)
		if err == nil {
			_, err = io.Copy(out, in)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
		}
		in.Close()
		if err != nil {
			return err
		}
	}
	return nil
}
GO
  rm -rf "$dest.tmp"
  (cd "$work" && GOFLAGS='' go run . "$dest.tmp")
  rm -rf "$dest"; mv "$dest.tmp" "$dest"
  rm -rf "$work"
  echo "written"
}

# shellcheck disable=SC2317 # called from keep_services and the main loop; shellcheck loses track after the heredoc above
services_list() { grep -v '^[[:space:]]*\(#\|$\)' "$here/../pkg/tools/aws-provider-services.txt"; }

bindir_all=()
for name in "${tools[@]}"; do
  recipe "$name"
  dir="$cache/tools/$name-$ver"
  bin="$dir/$exe"
  if [ "$name" = alertmanager-ui ]; then
    mkdir -p "$dir"
    exec 9>"$dir/.lock"
    flock 9
    if [ -f "$dir/ui/index.html" ]; then
      echo "$name $ver: cached at $dir/ui" >&2
    else
      echo "$name $ver: writing Alertmanager's web UI from its Go module..." >&2
      if ! msg=$(build_alertmanager_ui "$ver" "$dir/ui" 2>"$dir/build.log"); then
        echo "$name $ver: failed; last lines of $dir/build.log:" >&2
        tail -20 "$dir/build.log" >&2
        exit 1
      fi
      echo "$name $ver: $msg, at $dir/ui" >&2
    fi
    exec 9>&-
    bindir_all+=("$dir/ui")
    continue
  elif [ "$name" = aws-provider ]; then
    # The list of services is part of what is built: a new list, a new build.
    dir="$cache/tools/$name-$ver-$(services_list | sha256sum | cut -c1-12)"
    bin="$dir/mirror/registry.terraform.io/hashicorp/aws/$ver/linux_amd64/terraform-provider-aws_v$ver"
    mkdir -p "$(dirname "$bin")"
    # A provider run by hand only says it is a plugin and exits 1.
    vercmd=""
  elif [ "$name" = nomad ] && first_line_of_version "$cache/tools/nomad-ui-$ver/nomad" >/dev/null; then
    # Nomad with its web UI is the same Nomad: no second build.
    echo "$name $ver: cached at $cache/tools/nomad-ui-$ver/nomad (the build with the web UI)" >&2
    bindir_all+=("$cache/tools/nomad-ui-$ver")
    continue
  elif existing=$(on_path "$name" "$ver"); then
    found=$(first_line_of_version "$existing" "$vercmd")
    echo "$name: using $existing ($found; pinned $ver)" >&2
    bindir_all+=("$(dirname "$existing")")
    continue
  elif [ "$name" = terraform ]; then
    name=opentofu; recipe opentofu
    dir="$cache/tools/opentofu-$ver" bin="$dir/tofu"
  fi
  mkdir -p "$dir"
  exec 9>"$dir/.lock"
  flock 9
  if [ -x "$bin" ] && [ -n "$vercmd" ] && ! first_line_of_version "$bin" "$vercmd" >/dev/null; then
    echo "$name $ver: the cached $bin does not run; building it again" >&2
    rm -f "$bin"
  fi
  if [ -x "$bin" ]; then
    echo "$name $ver: cached at $bin" >&2
  else
    case $name in
      nomad-ui) echo "$name $ver: building Nomad with its web UI (pnpm install and Ember build from npm, then go build; 10 minutes and more)..." >&2 ;;
      *) echo "$name $ver: building from the Go module proxy (minutes; the AWS provider 20-40 on two cores and about 8 GB)..." >&2 ;;
    esac
    log="$dir/build.log"
    if ! msg=$(build "$name" "$bin" 2>"$log"); then
      echo "$name $ver: build failed; last lines of $log:" >&2
      tail -20 "$log" >&2
      exit 1
    fi
    echo "$name $ver: $msg, at $bin" >&2
  fi
  [ "$name" = aws-provider ] && write_mirror "$dir"
  exec 9>&-
  bindir_all+=("$dir")
done

if [ $print_path = 1 ]; then
  (IFS=:; echo "${bindir_all[*]}")
fi
