# shellcheck shell=bash
# Shared by server.sh, client.sh and vault.sh: argument parsing, release
# download and verification, users, directories, agent configs and systemd
# units. Everything is written under --root, so a test (or `hstack dev up
# --cluster`) can render a node into a directory with no systemd and no
# network; paths inside the rendered files point into that root too.

: "${role:?set by the entry point (server.sh, client.sh, vault.sh)}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$here/versions.env" ]; then versions="$here/versions.env"; else versions="$here/../../pkg/tools/versions.env"; fi
# shellcheck source=../../pkg/tools/versions.env
source "$versions"

die() { echo "provision: $*" >&2; exit 1; }
note() { echo "provision: $*" >&2; }

usage() {
  cat >&2 <<USAGE
usage: $(basename "$0") [options]
  --source URL|DIR        release mirror in the releases.hashicorp.com layout
                          (<name>/<ver>/<name>_<ver>_linux_amd64.zip, <name>_<ver>_SHA256SUMS[.sig])
  --root DIR              install root (default /); no systemctl, apt or useradd unless it is /
  --phase install|configure|all   install: packages, binaries, users, units; configure: agent configs (default all)
  --mode prod|dev         prod: TLS, gossip encryption, ACLs default-deny (default prod)
  --join aws|static       aws: cloud auto-join by EC2 tag; static: --servers addresses (default aws)
  --tag-key K --tag-value V   EC2 tag of the cluster's servers (default hstack-cluster=hstack)
  --servers A,B,C         static join: the Consul/Nomad server addresses (host or host:port)
  --vault-peers A,B,C     static join: the Vault nodes' API addresses (https://host:8200)
  --bind ADDR --advertise ADDR   addresses (default {{ GetPrivateIP }}, resolved by the agents)
  --client-addr ADDR      where Consul's HTTP API listens and the others reach it (default 127.0.0.1)
  --node-name NAME --datacenter DC --region R --zone Z
  --bootstrap-expect N    servers (and Vault nodes) expected in the cluster (default 3)
  --tls-dir DIR           ca.pem, <product>.pem, <product>-key.pem to install (prod)
  --gossip-key-file F     Consul gossip key; --nomad-gossip-key-file F: Nomad's
  --seal awskms|shamir    Vault seal (default awskms with --join aws, shamir otherwise)
  --kms-key-id ID --aws-region R   for the awskms seal
  --vault-port N --vault-cluster-port N   Vault's API and cluster ports (default 8200, 8201)
  --raft-performance-multiplier N   Vault's Raft timing, 1 (fastest) to 10 (default: Vault's own, 5)
  --gpg-key FILE          public key that signed the SHA256SUMS (HashiCorp's)
  --raw-exec              enable Nomad's raw_exec driver (local clusters without Docker)
  --colocated             vault.sh on a server.sh node: keep the Consul server config server.sh rendered
  --min-dynamic-port N --max-dynamic-port N
  --drain-deadline DUR    client: drain the node when Nomad stops, allocations given DUR
                          to move (e.g. 300s, 5m; default 5m in prod, none in dev; "off" for none)
  --extra-config PRODUCT=FILE   copy FILE into PRODUCT's config dir (repeatable)
  --skip-packages         do not apt-get install (Docker, CNI plugins, auditd, ...)
  --enable                systemctl enable --now the agents (root / only)
USAGE
  exit 2
}

parse_args() {
  source_="" root=/ phase=all mode=prod join=aws tag_key=hstack-cluster tag_value=hstack
  servers="" vault_peers="" bind='{{ GetPrivateIP }}' advertise="" client_addr=127.0.0.1 node_name="" datacenter=dc1 region=global zone=""
  bootstrap_expect=3 tls_dir="" gossip_key_file="" nomad_gossip_key_file="" seal="" kms_key_id="" aws_region=""
  gpg_key="" raw_exec=false min_dyn="" max_dyn="" skip_packages=0 enable=0 colocated=0 drain_deadline=""
  vault_port=8200 vault_cluster_port=8201 raft_perf=""
  extra_configs=()
  while [ $# -gt 0 ]; do
    case $1 in
      --source) source_=${2:?}; shift ;;
      --root) root=${2:?}; shift ;;
      --phase) phase=${2:?}; shift ;;
      --mode) mode=${2:?}; shift ;;
      --join) join=${2:?}; shift ;;
      --tag-key) tag_key=${2:?}; shift ;;
      --tag-value) tag_value=${2:?}; shift ;;
      --servers) servers=${2:?}; shift ;;
      --vault-peers) vault_peers=${2:?}; shift ;;
      --bind) bind=${2:?}; shift ;;
      --advertise) advertise=${2:?}; shift ;;
      --client-addr) client_addr=${2:?}; shift ;;
      --node-name) node_name=${2:?}; shift ;;
      --datacenter) datacenter=${2:?}; shift ;;
      --region) region=${2:?}; shift ;;
      --zone) zone=${2:?}; shift ;;
      --bootstrap-expect) bootstrap_expect=${2:?}; shift ;;
      --tls-dir) tls_dir=${2:?}; shift ;;
      --gossip-key-file) gossip_key_file=${2:?}; shift ;;
      --nomad-gossip-key-file) nomad_gossip_key_file=${2:?}; shift ;;
      --seal) seal=${2:?}; shift ;;
      --kms-key-id) kms_key_id=${2:?}; shift ;;
      --aws-region) aws_region=${2:?}; shift ;;
      --gpg-key) gpg_key=${2:?}; shift ;;
      --vault-port) vault_port=${2:?}; shift ;;
      --vault-cluster-port) vault_cluster_port=${2:?}; shift ;;
      --raft-performance-multiplier) raft_perf=${2:?}; shift ;;
      --raw-exec) raw_exec=true ;;
      --colocated) colocated=1 ;;
      --min-dynamic-port) min_dyn=${2:?}; shift ;;
      --max-dynamic-port) max_dyn=${2:?}; shift ;;
      --drain-deadline) drain_deadline=${2:?}; shift ;;
      --extra-config) extra_configs+=("${2:?}"); shift ;;
      --skip-packages) skip_packages=1 ;;
      --enable) enable=1 ;;
      -h|--help) usage ;;
      *) echo "provision: unknown option '$1'" >&2; usage ;;
    esac
    shift
  done
  case $phase in install|configure|all) ;; *) die "--phase must be install, configure or all, not '$phase'" ;; esac
  case $mode in prod|dev) ;; *) die "--mode must be prod or dev, not '$mode'" ;; esac
  case $join in aws|static) ;; *) die "--join must be aws or static, not '$join'" ;; esac
  [ "$join" = static ] && [ -z "$servers" ] && [ "$phase" != install ] && die "--join static needs --servers"
  [ "$colocated" = 0 ] || [ "$role" = vault ] || die "--colocated is a vault.sh option (Vault on a server.sh node)"
  # Every client carries a zone in its node meta: render's
  # spread_across_zones spreads on meta.zone. On AWS it is the instance's
  # availability zone, known only at boot (nomad_zone_from_imds).
  [ "$role" != client ] || [ "$phase" = install ] || [ -n "$zone" ] || [ "$join" = aws ] ||
    die "--zone is needed with --join static (the node meta zone spread_across_zones spreads on)"
  [[ $bootstrap_expect =~ ^[0-9]+$ ]] || die "--bootstrap-expect must be a number, not '$bootstrap_expect'"
  [ -z "$raft_perf" ] || [[ $raft_perf =~ ^([1-9]|10)$ ]] || die "--raft-performance-multiplier must be 1 to 10, not '$raft_perf'"
  [ -n "$seal" ] || { if [ "$join" = aws ]; then seal=awskms; else seal=shamir; fi; }
  case $seal in awskms|shamir) ;; *) die "--seal must be awskms or shamir, not '$seal'" ;; esac
  [ "$phase" = configure ] || [ -n "$source_" ] || die "--source is required to install binaries"
  [ -n "$advertise" ] || advertise=$bind
  # A production client drains before it stops (an instance being replaced
  # or scaled in); a dev cluster's `dev down` stops every client at once, so
  # there is nowhere to drain to.
  [ -n "$drain_deadline" ] || { [ "$mode" = prod ] && drain_deadline=5m; }
  [ "$drain_deadline" = off ] && drain_deadline=""
  if [ -n "$drain_deadline" ]; then
    [[ $drain_deadline =~ ^[1-9][0-9]*[sm]$ ]] || die "--drain-deadline must be seconds or minutes (300s, 5m) or off, not '$drain_deadline'"
  fi
  mkdir -p "$root"
  root=$(cd "$root" && pwd)
  # P prefixes every path written into a rendered file: empty on a real
  # host, the root directory when a node is rendered into a directory.
  if [ "$root" = / ]; then P=""; else P=$root; fi
  live=0; [ "$root" = / ] && live=1
  return 0
}

# hcl_list "a,b" prints ["a", "b"].
hcl_list() {
  local out="" item
  IFS=, read -ra items <<<"$1"
  for item in "${items[@]}"; do
    [ -n "$item" ] && out+="${out:+, }\"$item\""
  done
  printf '[%s]' "$out"
}

# retry_join prints the retry_join list for Consul and Nomad.
retry_join() {
  if [ "$join" = aws ]; then
    printf '["provider=aws tag_key=%s tag_value=%s"]' "$tag_key" "$tag_value"
  else
    hcl_list "$servers"
  fi
}

# ---------------------------------------------------------------- binaries

# fetch copies one file of a release from the source into $2.
fetch() {
  local rel=$1 dest=$2
  case $source_ in
    http://*|https://*) curl -fsSL --retry 3 -o "$dest" "${source_%/}/$rel" ;;
    file://*) cp "${source_#file://}/$rel" "$dest" ;;
    *) cp "$source_/$rel" "$dest" ;;
  esac
}

# verify_release downloads <name> <version> into $work/<name>/ and checks
# the zip against the SHA256SUMS (and the SUMS against its signature when
# there is one and gpg is here). Nothing is installed by it.
verify_release() {
  local name=$1 ver=$2 d zip sums want got
  d="$work/$name"
  zip="${name}_${ver}_linux_amd64.zip" sums="${name}_${ver}_SHA256SUMS"
  mkdir -p "$d"
  fetch "$name/$ver/$zip" "$d/$zip" 2>/dev/null || die "$name $ver: $zip not found in $source_"
  fetch "$name/$ver/$sums" "$d/$sums" 2>/dev/null || die "$name $ver: $sums not found in $source_"
  if fetch "$name/$ver/$sums.sig" "$d/$sums.sig" 2>/dev/null && command -v gpg >/dev/null; then
    [ -n "$gpg_key" ] || die "$name $ver: $sums is signed but no --gpg-key was given to check it with"
    local gh
    gh=$(mktemp -d)
    gpg --homedir "$gh" --batch --quiet --import "$gpg_key" 2>/dev/null || die "cannot import --gpg-key $gpg_key"
    if ! gpg --homedir "$gh" --batch --quiet --verify "$d/$sums.sig" "$d/$sums" 2>/dev/null; then
      rm -rf "$gh"
      die "$name $ver: BAD SIGNATURE on $sums (key $gpg_key): refusing to install"
    fi
    rm -rf "$gh"
    note "$name $ver: $sums signature good"
  fi
  want=$(awk -v f="$zip" '$2 == f || $2 == "*" f { print $1 }' "$d/$sums")
  [ -n "$want" ] || die "$name $ver: $zip is not listed in $sums: refusing to install"
  got=$(sha256sum "$d/$zip"); got=${got%% *}
  [ "$want" = "$got" ] || die "$name $ver: $zip does not match $sums (want sha256 $want, got $got): corrupted or tampered download, refusing to install"
  unzip -q -o "$d/$zip" "$name" -d "$d/x" 2>/dev/null || die "$name $ver: $zip has no $name binary"
}

# install_binaries verifies every release first and installs only when all
# of them are good, so a bad download leaves the root untouched.
install_binaries() {
  local name ver
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  for name in "$@"; do
    ver=$(release_version "$name")
    verify_release "$name" "$ver"
  done
  install -d "$root/usr/local/bin"
  for name in "$@"; do
    install -m 0755 "$work/$name/x/$name" "$root/usr/local/bin/$name"
    note "$name $(release_version "$name"): verified and installed at $P/usr/local/bin/$name"
  done
}

release_version() {
  case $1 in
    nomad) echo "$NOMAD_VERSION" ;; consul) echo "$CONSUL_VERSION" ;; vault) echo "$VAULT_VERSION" ;;
    *) die "no pinned version for $1" ;;
  esac
}

# ---------------------------------------------------------- users and dirs

# users writes a systemd-sysusers file (the declarative list, testable in any
# root) and, on a real host, creates the users from it.
users() {
  local f="$root/usr/lib/sysusers.d/hstack-$role.conf" u
  install -d "$root/usr/lib/sysusers.d"
  : >"$f"
  for u in "$@"; do
    printf 'u %s - "%s agent" /etc/%s.d /usr/sbin/nologin\n' "$u" "$u" "$u" >>"$f"
  done
  [ "$live" = 1 ] || return 0
  if command -v systemd-sysusers >/dev/null; then
    systemd-sysusers "$f"
  else
    for u in "$@"; do id "$u" >/dev/null 2>&1 || useradd --system --home-dir "/etc/$u.d" --shell /usr/sbin/nologin "$u"; done
  fi
}

# dirs PRODUCT OWNER: config, data, log and TLS directories.
dirs() {
  local p=$1 owner=$2 d
  for d in "/etc/$p.d" "/etc/$p.d/tls" "/opt/$p/data" "/var/log/$p"; do
    install -d -m 0750 "$root$d"
    [ "$live" = 1 ] && chown "$owner:$owner" "$root$d"
  done
  return 0
}

# write FILE MODE OWNER: stdin into FILE under the root, atomically.
write() {
  local f="$root$1" mode=$2 owner=$3
  install -d "$(dirname "$f")"
  cat >"$f.tmp"
  chmod "$mode" "$f.tmp"
  [ "$live" = 1 ] && [ "$owner" != root ] && chown "root:$owner" "$f.tmp"
  mv "$f.tmp" "$f"
}

# install_tls PRODUCT: copy ca.pem, PRODUCT.pem and PRODUCT-key.pem from
# --tls-dir. Keys never leave the files; only their paths are rendered.
install_tls() {
  local p=$1 f
  [ -n "$tls_dir" ] || { note "$p: no --tls-dir; put ca.pem, $p.pem, $p-key.pem in $P/etc/$p.d/tls before starting"; return 0; }
  for f in ca.pem "$p.pem" "$p-key.pem"; do
    [ -f "$tls_dir/$f" ] || die "--tls-dir $tls_dir has no $f"
  done
  install -m 0644 "$tls_dir/ca.pem" "$root/etc/$p.d/tls/ca.pem"
  install -m 0644 "$tls_dir/$p.pem" "$root/etc/$p.d/tls/$p.pem"
  install -m 0640 "$tls_dir/$p-key.pem" "$root/etc/$p.d/tls/$p-key.pem"
  [ "$live" = 1 ] && chown "root:$p" "$root/etc/$p.d/tls/$p-key.pem"
  return 0
}

# install_secret FILE DEST OWNER KEY: DEST gets `KEY = "<contents of FILE>"`
# wrapped in BLOCK when given; the secret is never echoed.
gossip_file() {
  local src=$1 dest=$2 owner=$3 block=$4 key
  [ -n "$src" ] || return 0
  key=$(tr -d '[:space:]' <"$src")
  [ -n "$key" ] || die "$src is empty"
  if [ -n "$block" ]; then
    printf '%s {\n  encrypt = "%s"\n}\n' "$block" "$key" | write "$dest" 0640 "$owner"
  else
    printf 'encrypt = "%s"\nencrypt_verify_incoming = true\nencrypt_verify_outgoing = true\n' "$key" | write "$dest" 0640 "$owner"
  fi
}

copy_extra_configs() {
  local e p f
  for e in "${extra_configs[@]}"; do
    p=${e%%=*} f=${e#*=}
    [ "$p" = "$1" ] || continue
    [ -f "$f" ] || die "--extra-config $e: no such file"
    install -m 0640 "$f" "$root/etc/$p.d/${f##*/}"
  done
}

# ------------------------------------------------------------------ Consul

render_consul() {
  local server=$1
  dirs consul consul
  [ "$mode" = prod ] && install_tls consul
  {
    echo "# Rendered by scripts/provision ($role, $mode, join $join)."
    [ -n "$node_name" ] && echo "node_name   = \"$node_name\""
    cat <<HCL
datacenter  = "$datacenter"
data_dir    = "$P/opt/consul/data"
log_level   = "INFO"
log_file    = "$P/var/log/consul/"
bind_addr   = "$bind"
advertise_addr = "$advertise"
client_addr = "$client_addr"
retry_join  = $(retry_join)
leave_on_terminate = true
telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
HCL
    if [ "$server" = true ]; then
      cat <<HCL
server           = true
bootstrap_expect = $bootstrap_expect
ui_config {
  enabled = true
}
autopilot {
  cleanup_dead_servers = true
}
HCL
    fi
    if [ "$mode" = prod ]; then
      cat <<HCL
acl {
  enabled                  = true
  default_policy           = "deny"
  enable_token_persistence = true
}
tls {
  defaults {
    ca_file         = "$P/etc/consul.d/tls/ca.pem"
    cert_file       = "$P/etc/consul.d/tls/consul.pem"
    key_file        = "$P/etc/consul.d/tls/consul-key.pem"
    verify_incoming = true
    verify_outgoing = true
  }
  internal_rpc {
    verify_server_hostname = true
  }
}
ports {
  http  = -1
  https = 8501
}
HCL
    fi
  } | write /etc/consul.d/consul.hcl 0640 consul
  [ "$mode" = prod ] && gossip_file "$gossip_key_file" /etc/consul.d/encrypt.hcl consul ""
  copy_extra_configs consul
  unit consul consul "agent -config-dir=$P/etc/consul.d" "Consul agent" "network-online.target" \
    "$( [ "$mode" = prod ] && echo "$P/etc/consul.d/encrypt.hcl $P/etc/consul.d/tls/consul-key.pem")"
}

# ------------------------------------------------------------------- Nomad

render_nomad() {
  local server=$1 owner=nomad
  # A client runs as root: it mounts, creates network namespaces and talks
  # to Docker.
  [ "$server" = true ] || owner=root
  dirs nomad "$owner"
  [ "$mode" = prod ] && install_tls nomad
  {
    echo "# Rendered by scripts/provision ($role, $mode, join $join)."
    [ -n "$node_name" ] && echo "name       = \"$node_name\""
    cat <<HCL
region     = "$region"
datacenter = "$datacenter"
data_dir   = "$P/opt/nomad/data"
log_level  = "INFO"
log_file   = "$P/var/log/nomad/"
bind_addr  = "$bind"
advertise {
  http = "$advertise"
  rpc  = "$advertise"
  serf = "$advertise"
}
leave_on_terminate = true
HCL
    # systemd stops Nomad with SIGINT (the unit's KillSignal); only a
    # graceful stop runs the client's drain_on_shutdown.
    [ "$server" != true ] && [ -n "$drain_deadline" ] && echo "leave_on_interrupt = true"
    cat <<HCL
telemetry {
  prometheus_metrics         = true
  publish_allocation_metrics = true
  publish_node_metrics       = true
  disable_hostname           = true
}
consul {
HCL
    if [ "$mode" = prod ]; then
      cat <<HCL
  address   = "$client_addr:8501"
  ssl       = true
  ca_file   = "$P/etc/consul.d/tls/ca.pem"
  cert_file = "$P/etc/consul.d/tls/consul.pem"
  key_file  = "$P/etc/consul.d/tls/consul-key.pem"
HCL
    else
      echo "  address = \"$client_addr:8500\""
    fi
    echo "}"
    if [ "$server" = true ]; then
      cat <<HCL
server {
  enabled          = true
  bootstrap_expect = $bootstrap_expect
  server_join {
    retry_join = $(retry_join)
  }
}
HCL
    else
      cat <<HCL
client {
  enabled  = true
  cni_path = "$( [ "$skip_packages" = 1 ] && echo "$P/opt/cni/bin" || echo /usr/lib/cni)"
  server_join {
    retry_join = $(retry_join)
  }
HCL
      # The node's ingress (pkg/render) binds and registers ingress_address:
      # the node's own when it is an address, as on the loopback cluster and
      # in Vagrant; "" (a go-sockaddr template, on an image) leaves the
      # address Nomad fingerprints, the instance's. Its Consul DNS is the
      # agent's client address (Consul's DNS port is the default). Without
      # --zone (on AWS) nomad_zone_from_imds adds the zone at boot (zone.hcl;
      # Nomad merges the meta of its config files).
      local ingress_address=$advertise
      case $ingress_address in *'{{'*) ingress_address="" ;; esac
      echo "  meta {"
      [ -n "$zone" ] && printf '    zone = "%s"\n' "$zone"
      printf '    ingress_address = "%s"\n    consul_dns_addr = "%s:8600"\n' "$ingress_address" "$client_addr"
      echo "  }"
      [ -n "$min_dyn" ] && echo "  min_dynamic_port = $min_dyn"
      [ -n "$max_dyn" ] && echo "  max_dynamic_port = $max_dyn"
      [ -n "$drain_deadline" ] && printf '  drain_on_shutdown {\n    deadline           = "%s"\n    ignore_system_jobs = false\n  }\n' "$drain_deadline"
      # Off AWS the cloud fingerprinters only time out against metadata
      # endpoints that are not there.
      [ "$join" = static ] && echo '  options = { "fingerprint.denylist" = "env_aws,env_gce,env_azure,env_digitalocean" }'
      cat <<HCL
}
plugin "docker" {
  config {
    allow_privileged = false
    volumes {
      enabled = false
    }
  }
}
plugin "raw_exec" {
  config {
    enabled = $raw_exec
  }
}
HCL
    fi
    if [ "$mode" = prod ]; then
      # RPC is mutual TLS. HTTPS asks for no client certificate: Vault and
      # Consul fetch the workload identity JWKS from it and cannot present
      # one (their JWT auth methods take a CA, not a client certificate);
      # ACLs guard the API, as on the single-node dev stack.
      cat <<HCL
acl {
  enabled = true
}
tls {
  http                   = true
  rpc                    = true
  ca_file                = "$P/etc/nomad.d/tls/ca.pem"
  cert_file              = "$P/etc/nomad.d/tls/nomad.pem"
  key_file               = "$P/etc/nomad.d/tls/nomad-key.pem"
  verify_server_hostname = true
  verify_https_client    = false
}
HCL
    fi
  } | write /etc/nomad.d/nomad.hcl 0640 "$owner"
  if [ "$mode" = prod ] && [ "$server" = true ]; then
    gossip_file "$nomad_gossip_key_file" /etc/nomad.d/encrypt.hcl "$owner" server
  fi
  copy_extra_configs nomad
  local need="" pre=""
  [ "$mode" = prod ] && need="$P/etc/nomad.d/tls/nomad-key.pem"
  [ "$mode" = prod ] && [ "$server" = true ] && need+=" $P/etc/nomad.d/encrypt.hcl"
  if [ "$server" != true ] && [ -z "$zone" ]; then
    nomad_zone_from_imds
    pre="$P/usr/local/bin/hstack-nomad-zone"
  fi
  # The drain may take its whole deadline; systemd's default 90 s would
  # kill Nomad in the middle of it.
  local stop_timeout=""
  if [ "$server" != true ] && [ -n "$drain_deadline" ]; then
    case $drain_deadline in
      *m) stop_timeout=$(( ${drain_deadline%m} * 60 + 60 )) ;;
      *s) stop_timeout=$(( ${drain_deadline%s} + 60 )) ;;
    esac
  fi
  unit nomad "$owner" "agent -config=$P/etc/nomad.d" "Nomad agent" "consul.service" "$need" "$pre"
}

# nomad_zone_from_imds: a client baked into an AMI learns its availability
# zone only once an autoscaling group has placed it, so before every start
# of the agent (ExecStartPre) this asks IMDSv2 and writes the zone into the
# node meta (zone.hcl, merged with nomad.hcl). No zone, no start: a client
# outside the spread would take the instances of every zone it is not in.
nomad_zone_from_imds() {
  write /usr/local/bin/hstack-nomad-zone 0755 root <<SH
#!/bin/sh
# Rendered by scripts/provision: the Nomad client's meta.zone from IMDSv2.
set -eu
imds=\${AWS_EC2_METADATA_SERVICE_ENDPOINT:-http://169.254.169.254}
imds=\${imds%/}
token=\$(curl -fsS --retry 5 --max-time 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' "\$imds/latest/api/token")
zone=\$(curl -fsS --retry 5 --max-time 5 -H "X-aws-ec2-metadata-token: \$token" "\$imds/latest/meta-data/placement/availability-zone")
case \$zone in
  ''|*[!a-z0-9-]*) echo "hstack-nomad-zone: no availability zone from IMDS (got '\$zone')" >&2; exit 1 ;;
esac
printf 'client {\n  meta {\n    zone = "%s"\n  }\n}\n' "\$zone" >"$P/etc/nomad.d/zone.hcl.tmp"
mv "$P/etc/nomad.d/zone.hcl.tmp" "$P/etc/nomad.d/zone.hcl"
SH
}

# render_termination_watch: on an instance of an auto scaling group, the
# watch that drains the node when the group terminates it
# (termination-watch.sh; the group's lifecycle hook waits for it).
render_termination_watch() {
  write /etc/systemd/system/hstack-termination-watch.service 0644 root <<UNIT
[Unit]
Description=Drain this Nomad client when its auto scaling group terminates it (hstack $role)
Wants=network-online.target
After=network-online.target nomad.service
ConditionPathExists=/etc/hstack/cluster.json

[Service]
ExecStart=$P/opt/hstack/provision/termination-watch.sh
Restart=on-failure
RestartSec=10
NoNewPrivileges=yes
ProtectHome=read-only
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
UNIT
}

# ------------------------------------------------------------------- Vault

render_vault() {
  local scheme=https
  [ "$mode" = prod ] || scheme=http
  dirs vault vault
  [ "$mode" = prod ] && install_tls vault
  local addr=$advertise
  {
    echo "# Rendered by scripts/provision ($role, $mode, join $join, seal $seal)."
    cat <<HCL
ui            = true
cluster_name  = "hstack"
disable_mlock = true
api_addr      = "$scheme://$addr:$vault_port"
cluster_addr  = "https://$addr:$vault_cluster_port"
listener "tcp" {
  address         = "$bind:$vault_port"
  cluster_address = "$bind:$vault_cluster_port"
HCL
    if [ "$mode" = prod ]; then
      cat <<HCL
  tls_cert_file   = "$P/etc/vault.d/tls/vault.pem"
  tls_key_file    = "$P/etc/vault.d/tls/vault-key.pem"
  tls_min_version = "tls12"
HCL
    else
      echo '  tls_disable     = true'
    fi
    cat <<HCL
  telemetry {
    unauthenticated_metrics_access = true
  }
}
storage "raft" {
  path = "$P/opt/vault/data"
HCL
    [ -n "$node_name" ] && echo "  node_id = \"$node_name\""
    # Unset in production: Vault's default (5) suits nodes on a network; a
    # cluster on one host elects at 1 in about a fifth of the time.
    [ -n "$raft_perf" ] && echo "  performance_multiplier = $raft_perf"
    if [ "$join" = aws ]; then
      cat <<HCL
  retry_join {
    auto_join             = "provider=aws tag_key=$tag_key tag_value=$tag_value"
    auto_join_scheme      = "$scheme"
HCL
      [ "$mode" = prod ] && echo "    leader_ca_cert_file   = \"$P/etc/vault.d/tls/ca.pem\""
      echo "  }"
    else
      local peer
      IFS=, read -ra peers <<<"$vault_peers"
      for peer in "${peers[@]}"; do
        [ -n "$peer" ] || continue
        echo "  retry_join {"
        echo "    leader_api_addr = \"$peer\""
        [ "$mode" = prod ] && echo "    leader_ca_cert_file = \"$P/etc/vault.d/tls/ca.pem\""
        echo "  }"
      done
    fi
    echo "}"
    if [ "$seal" = awskms ]; then
      echo 'seal "awskms" {'
      [ -n "$aws_region" ] && echo "  region     = \"$aws_region\""
      # Without --kms-key-id the key comes from VAULT_AWSKMS_SEAL_KEY_ID in
      # the unit's environment file, written at boot.
      [ -n "$kms_key_id" ] && echo "  kms_key_id = \"$kms_key_id\""
      echo '}'
    fi
    cat <<HCL
service_registration "consul" {
  address = "$client_addr:$( [ "$mode" = prod ] && echo 8501 || echo 8500)"
HCL
    if [ "$mode" = prod ]; then
      cat <<HCL
  scheme        = "https"
  tls_ca_file   = "$P/etc/consul.d/tls/ca.pem"
  tls_cert_file = "$P/etc/consul.d/tls/consul.pem"
  tls_key_file  = "$P/etc/consul.d/tls/consul-key.pem"
HCL
    fi
    cat <<HCL
}
telemetry {
  prometheus_retention_time = "60s"
  disable_hostname          = true
}
HCL
  } | write /etc/vault.d/vault.hcl 0640 vault
  # Audit devices are enabled through the API once Vault is initialised;
  # the log directory and its rotation are ready for it.
  write /etc/vault.d/enable-audit.sh 0750 vault <<SH
#!/bin/sh
# Run once after \`vault operator init\` with a root or sudo token in VAULT_TOKEN.
set -eu
case "\$(vault audit list 2>/dev/null || true)" in file/*) exit 0 ;; esac
exec vault audit enable file file_path=$P/var/log/vault/audit.log mode=0600
SH
  write /etc/logrotate.d/vault-audit 0644 root <<ROT
$P/var/log/vault/audit.log {
  daily
  rotate 14
  compress
  delaycompress
  missingok
  notifempty
  postrotate
    systemctl kill -s HUP vault.service >/dev/null 2>&1 || true
  endscript
}
ROT
  copy_extra_configs vault
  unit vault vault "server -config=$P/etc/vault.d/vault.hcl" "Vault server" "network-online.target consul.service" \
    "$( [ "$mode" = prod ] && echo "$P/etc/vault.d/tls/vault-key.pem")"
}

# unit NAME USER ARGS DESCRIPTION AFTER NEEDS [PRE]: a systemd unit. NEEDS
# are files that must exist before the agent starts (TLS keys, gossip keys,
# written at boot): without them systemd does not start it at all instead of
# starting it insecure. PRE runs as root before each start.
unit() {
  local name=$1 user=$2 args=$3 desc=$4 after=$5 needs=$6 pre=${7:-} f
  {
    cat <<UNIT
[Unit]
Description=$desc (hstack $role)
Documentation=https://developer.hashicorp.com/$name
Wants=network-online.target
After=$after
UNIT
    for f in $needs; do echo "ConditionPathExists=$f"; done
    cat <<UNIT

[Service]
User=$user
Group=$user
EnvironmentFile=-$P/etc/$name.d/$name.env
UNIT
    [ -z "$pre" ] || echo "ExecStartPre=+$pre"
    cat <<UNIT
ExecStart=$P/usr/local/bin/$name $args
ExecReload=/bin/kill --signal HUP \$MAINPID
KillMode=process
KillSignal=SIGINT
Restart=on-failure
RestartSec=2
LimitNOFILE=65536
UNIT
    [ -n "${stop_timeout:-}" ] && echo "TimeoutStopSec=$stop_timeout"
    if [ "$user" != root ]; then
      cat <<UNIT
NoNewPrivileges=yes
ProtectSystem=full
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
UNIT
    fi
    [ "$name" = vault ] && printf 'CapabilityBoundingSet=CAP_IPC_LOCK\nAmbientCapabilities=CAP_IPC_LOCK\n'
    printf '\n[Install]\nWantedBy=multi-user.target\n'
  } | write "/etc/systemd/system/$name.service" 0644 root
}

# ---------------------------------------------------------------- hardening

harden() {
  write /etc/ssh/sshd_config.d/10-hstack.conf 0644 root <<'CONF'
# hstack: keys only. Access is through SSM Session Manager; no security
# group opens port 22.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin no
PermitEmptyPasswords no
X11Forwarding no
CONF
  write /etc/apt/apt.conf.d/20auto-upgrades 0644 root <<'CONF'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
CONF
  write /etc/apt/apt.conf.d/52hstack-unattended-upgrades 0644 root <<'CONF'
// Security updates only; reboots are the fleet's job (a new AMI).
Unattended-Upgrade::Origins-Pattern { "origin=Debian,codename=${distro_codename}-security,label=Debian-Security"; };
Unattended-Upgrade::Automatic-Reboot "false";
CONF
  write /etc/audit/rules.d/hstack.rules 0640 root <<RULES
# hstack: who changed the agents' binaries, configs and keys, and identity files.
-w $P/usr/local/bin/ -p wa -k hstack-binaries
-w $P/etc/consul.d/ -p wa -k hstack-config
-w $P/etc/nomad.d/ -p wa -k hstack-config
-w $P/etc/vault.d/ -p wa -k hstack-config
-w /etc/passwd -p wa -k identity
-w /etc/group -p wa -k identity
-w /etc/sudoers -p wa -k privilege
-w /etc/ssh/sshd_config.d/ -p wa -k sshd
RULES
  # IMDSv2 is enforced by the launch template and the Packer builder
  # (http_tokens = required); the agents' AWS SDKs use it as is.
}

packages() {
  [ "$live" = 1 ] && [ "$skip_packages" = 0 ] || return 0
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# copy_self keeps the provisioning scripts on the image, so boot-time
# user data can run `--phase configure` with the instance's secrets.
copy_self() {
  install -d "$root/opt/hstack/provision"
  install -m 0644 "$here/lib.sh" "$here/aws.sh" "$versions" "$root/opt/hstack/provision/"
  install -m 0755 "$here/server.sh" "$here/client.sh" "$here/vault.sh" "$here/termination-watch.sh" "$here/boot.sh" "$root/opt/hstack/provision/"
}

enable_units() {
  [ "$live" = 1 ] && [ "$enable" = 1 ] || return 0
  systemctl daemon-reload
  systemctl enable --now "$@"
}
