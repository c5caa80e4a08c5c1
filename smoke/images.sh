#!/usr/bin/env bash
# Makes, when they are missing, the images docker/compose.yml needs for the PostgreSQL, MariaDB
# and SQLite smoke cases, on machines that reach no container registry:
#
#   localhost/stage-smoke/debian:bookworm   debootstrap --variant=minbase from the Debian mirror
#   localhost/stage-smoke/debian:trixie     the machine's apt uses, then `import`
#   debian:bookworm-slim                    the bookworm base, for docker/Dockerfile's runtime
#   postgres:16                             stand-in: Debian bookworm's PostgreSQL (15)
#   mariadb:11                              stand-in: Debian trixie's MariaDB (11.8)
#
# The stand-ins (smoke/images/postgres, smoke/images/mariadb) honour the official images'
# environment variables and /docker-entrypoint-initdb.d as far as docker/compose.yml uses them.
#
# Idempotent: an image made here carries the label stage.smoke.recipe = hash of its recipe
# (this script's functions, the Containerfile folder, the base's recipe); it is remade only when
# that hash changes. An image under one of these names that has no such label (a real one,
# pulled from a registry) is left alone. A missing image is first pulled (20 s at most;
# SMOKE_PULL=0 skips that), then made.
#
# Environment: SMOKE_ENGINE=docker|podman, SMOKE_DEBIAN_MIRROR (default: the machine's apt
# mirror, else http://deb.debian.org/debian), SMOKE_DEBIAN_SECURITY, SMOKE_PULL=0|1,
# SMOKE_REBUILD=1 (remake this script's images even when their recipe is unchanged).
set -euo pipefail

SMOKE_ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=smoke/lib.sh
source "$SMOKE_ROOT/smoke/lib.sh"
smoke_engine_init

LABEL=stage.smoke.recipe
PULL=${SMOKE_PULL:-1}
REBUILD=${SMOKE_REBUILD:-0}

# The first Debian mirror (…/debian) and security mirror (…/debian-security) in apt's sources.
apt_uris() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    sed -n -E 's/^[[:space:]]*(deb[[:space:]]+(\[[^]]*\][[:space:]]+)?|URIs:[[:space:]]*)([a-z]+:\/\/[^[:space:]]+).*/\3/p'
}
MIRROR=${SMOKE_DEBIAN_MIRROR:-$(apt_uris | grep -E '/debian/?$' | head -n 1 || true)}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
MIRROR=${MIRROR%/}
SECURITY=${SMOKE_DEBIAN_SECURITY:-$(apt_uris | grep -E '/debian-security/?$' | head -n 1 || true)}
SECURITY=${SECURITY:-http://deb.debian.org/debian-security}
SECURITY=${SECURITY%/}

sha() { sha256sum | cut -c1-16; }

# The recipe label of image $1, empty when it has none or does not exist.
label_of() {
  local v
  v=$("$ENGINE" image inspect --format "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null) || v=
  [[ $v == "<no value>" ]] && v=
  printf '%s' "$v"
}
exists() { "$ENGINE" image inspect "$1" >/dev/null 2>&1; }

# Removes the images this script made before that no name points to any more (remade ones).
drop_old() {
  local id
  for id in $("$ENGINE" images -q --filter dangling=true --filter "label=$LABEL" 2>/dev/null); do
    "$ENGINE" rmi "$id" >/dev/null 2>&1 || true
  done
}

# What to do for image $1 with recipe hash $2: prints "ok", "foreign" or "make".
decide() {
  local image=$1 hash=$2 have
  if exists "$image"; then
    have=$(label_of "$image")
    if [[ -z $have ]]; then
      echo foreign
    elif [[ $have == "$hash" && $REBUILD != 1 ]]; then
      echo ok
    else
      echo make
    fi
    return
  fi
  if [[ $PULL == 1 && $image != localhost/* ]] && timeout 20 "$ENGINE" pull -q "$image" >/dev/null 2>&1; then
    echo foreign
    return
  fi
  echo make
}

# debootstrap --variant=minbase of suite $1 (Debian's packages only), imported as image $2.
make_base() {
  local suite=$1 image=$2 hash=$3 dir
  smoke_need_pkgs debootstrap
  mkdir -p "$SMOKE_STATE"
  dir=$(mktemp -d "$SMOKE_STATE/rootfs-$suite.XXXXXX")
  # shellcheck disable=SC2064
  trap "rm -rf '$dir'" RETURN
  smoke_log "debootstrap $suite from $MIRROR (a few minutes)"
  debootstrap --variant=minbase --include=ca-certificates "$suite" "$dir" "$MIRROR" >"$SMOKE_STATE/debootstrap-$suite.log" 2>&1 || {
    tail -n 20 "$SMOKE_STATE/debootstrap-$suite.log" >&2
    return 1
  }
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$MIRROR" "$suite" "$MIRROR" "$suite" "$SECURITY" "$suite" >"$dir/etc/apt/sources.list"
  # As Docker's Debian images: no service starts while packages install, no documentation.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"
  chmod 0755 "$dir/usr/sbin/policy-rc.d"
  printf 'path-exclude /usr/share/doc/*\npath-include /usr/share/doc/*/copyright\npath-exclude /usr/share/man/*\npath-exclude /usr/share/locale/*\npath-exclude /usr/share/info/*\n' \
    >"$dir/etc/dpkg/dpkg.cfg.d/docker-excludes"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$dir/etc/apt/apt.conf.d/90-no-recommends"
  # As Docker's Debian images: no downloaded packages, package caches or translations left in
  # the layers of images built on this base.
  cat >"$dir/etc/apt/apt.conf.d/docker-clean" <<'EOC'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::Languages "none";
EOC
  chroot "$dir" apt-get clean
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/var/log/*.log \
    "$dir"/usr/share/doc/* "$dir"/usr/share/man/* "$dir"/usr/share/locale/* "$dir"/usr/share/info/*
  : >"$dir/etc/hostname"
  tar --numeric-owner -C "$dir" -c . | "$ENGINE" import -q \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $LABEL=$hash" \
    --change 'CMD ["bash"]' \
    - "$image" >/dev/null
}

# A stand-in from smoke/images/$1 on base image $2, as image $3.
make_standin() {
  local name=$1 base=$2 image=$3 hash=$4
  smoke_log "building $image (stand-in, smoke/images/$name)"
  "$ENGINE" build -q --build-arg "BASE=$base" --label "$LABEL=$hash" \
    -t "$image" "$SMOKE_ROOT/smoke/images/$name" >/dev/null
}

ensure_base() {
  local suite=$1 image=$2 hash
  hash=$( { declare -f make_base; echo "$suite $MIRROR $SECURITY"; } | sha)
  case $(decide "$image" "$hash") in
    ok) smoke_log "$image: up to date" ;;
    foreign) smoke_log "$image: present, not made here; kept" ;;
    make) make_base "$suite" "$image" "$hash" ;;
  esac
}

# The recipe hash of stand-in $1 on base image $2.
standin_hash() {
  { declare -f make_standin; label_of "$2"; "$ENGINE" image inspect --format '{{.Id}}' "$2" 2>/dev/null;
    (cd "$SMOKE_ROOT/smoke/images/$1" && find . -type f | LC_ALL=C sort | xargs sha256sum); } | sha
}

ensure_standin() {
  local name=$1 base=$2 image=$3 hash
  hash=$(standin_hash "$name" "$base")
  case $(decide "$image" "$hash") in
    ok) smoke_log "$image: up to date" ;;
    foreign) smoke_log "$image: present, not made here; kept" ;;
    make) make_standin "$name" "$base" "$image" "$hash" ;;
  esac
}

started=$SECONDS
# Bookworm: the runtime of docker/Dockerfile (same C library as the host that builds `stage`)
# and PostgreSQL. Trixie: MariaDB 11 (bookworm has 10.11).
ensure_base bookworm localhost/stage-smoke/debian:bookworm
ensure_base trixie localhost/stage-smoke/debian:trixie
if ! exists debian:bookworm-slim || [[ -n $(label_of debian:bookworm-slim) ]]; then
  "$ENGINE" tag localhost/stage-smoke/debian:bookworm docker.io/library/debian:bookworm-slim
fi
ensure_standin postgres localhost/stage-smoke/debian:bookworm docker.io/library/postgres:16
ensure_standin mariadb localhost/stage-smoke/debian:trixie docker.io/library/mariadb:11
drop_old
drop_old # the bases of the stand-ins removed just now
smoke_log "images ready ($((SECONDS - started))s)"
