# shellcheck shell=bash disable=SC2034  # DC and ENGINE are for the scripts that source it
# Shared by smoke/run.sh and smoke/images.sh (sourced, not run): picks the container engine and
# sets up podman where there is no Docker engine.
#
#   smoke_engine_init   sets ENGINE (docker or podman) and, for podman, CONTAINERS_CONF
#                       (smoke/containers.conf) and a `docker` shim first in PATH. Installs
#                       podman from Debian's packages when there is no engine and we are root.
#   smoke_need_pkgs P…  installs the Debian packages P… that are missing (root only).
#   smoke_compose_init  sets DC (the compose command) and, for podman, DOCKER_HOST: starts
#                       `podman system service` on a socket of its own when none answers
#                       (SMOKE_PODMAN_SERVICE_PID is then its pid, for smoke_engine_stop).
#
# Environment: SMOKE_ENGINE=docker|podman to choose; SMOKE_STATE_DIR (default
# /var/tmp/stage-smoke) for the shim, the socket and scratch space.

SMOKE_ROOT=${SMOKE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
SMOKE_STATE=${SMOKE_STATE_DIR:-/var/tmp/stage-smoke}
SMOKE_PODMAN_SERVICE_PID=
DC=() ENGINE=

smoke_log() { printf '[smoke] %s\n' "$*" >&2; }

_smoke_apt_updated=0
smoke_need_pkgs() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  ((${#missing[@]} == 0)) && return 0
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null 2>&1; then
    smoke_log "missing Debian packages: ${missing[*]} (install them, or run as root on Debian)"
    return 1
  fi
  smoke_log "installing ${missing[*]}"
  if ((_smoke_apt_updated == 0)); then
    apt-get update -qq >&2 || return 1
    _smoke_apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

_smoke_docker_engine_works() {
  command -v docker >/dev/null 2>&1 || return 1
  # Our own shim is podman, not a Docker engine.
  [[ $(command -v docker) == "$SMOKE_STATE/bin/docker" ]] && return 1
  timeout 20 docker info >/dev/null 2>&1
}

smoke_engine_init() {
  if [[ -z ${SMOKE_ENGINE:-} ]]; then
    if _smoke_docker_engine_works; then
      SMOKE_ENGINE=docker
    elif command -v podman >/dev/null 2>&1; then
      SMOKE_ENGINE=podman
    else
      smoke_log "no container engine (no Docker engine answers, no podman): installing podman"
      SMOKE_ENGINE=podman
    fi
  fi
  export SMOKE_ENGINE
  ENGINE=$SMOKE_ENGINE
  mkdir -p "$SMOKE_STATE"
  if [[ $ENGINE == podman ]]; then
    # runc, netavark and aardvark-dns: see smoke/containers.conf; netavark needs iptables.
    smoke_need_pkgs podman runc netavark aardvark-dns conmon uidmap iptables curl || return 1
    export CONTAINERS_CONF=${CONTAINERS_CONF:-$SMOKE_ROOT/smoke/containers.conf}
    # Docker's image format: the OCI one ignores SHELL (docker/Dockerfile sets pipefail with it).
    export BUILDAH_FORMAT=docker
    # docker-compose builds through the `docker` CLI (COMPOSE_DOCKER_CLI_BUILD=1), so the shim
    # makes those builds podman builds, with podman's cache and images.
    mkdir -p "$SMOKE_STATE/bin"
    printf '#!/bin/sh\nexec podman "$@"\n' >"$SMOKE_STATE/bin/docker"
    chmod 0755 "$SMOKE_STATE/bin/docker"
    case ":$PATH:" in
      ":$SMOKE_STATE/bin:"*) ;;
      *) export PATH="$SMOKE_STATE/bin:$PATH" ;;
    esac
  fi
  return 0
}

_smoke_socket_answers() {
  curl -fsS --max-time 5 --unix-socket "$1" http://d/_ping >/dev/null 2>&1
}

smoke_compose_init() {
  if [[ $ENGINE == podman ]]; then
    if [[ -z ${DOCKER_HOST:-} ]]; then
      local sock=$SMOKE_STATE/podman.sock i
      if ! _smoke_socket_answers "$sock"; then
        rm -f "$sock"
        podman system service --time=0 "unix://$sock" >"$SMOKE_STATE/podman-service.log" 2>&1 &
        SMOKE_PODMAN_SERVICE_PID=$!
        for ((i = 0; i < 50; i++)); do
          _smoke_socket_answers "$sock" && break
          sleep 0.2
        done
        _smoke_socket_answers "$sock" || {
          smoke_log "podman system service did not answer on $sock (see $SMOKE_STATE/podman-service.log)"
          return 1
        }
      fi
      export DOCKER_HOST="unix://$sock"
    fi
    export COMPOSE_DOCKER_CLI_BUILD=1 DOCKER_BUILDKIT=0
  fi
  if [[ $ENGINE == docker ]] && docker compose version >/dev/null 2>&1; then
    DC=(docker compose)
  elif command -v docker-compose >/dev/null 2>&1; then
    DC=(docker-compose)
  elif smoke_need_pkgs docker-compose; then
    DC=(docker-compose)
  else
    smoke_log "neither 'docker compose' nor 'docker-compose' found; for the local cases use: smoke/run.sh --local"
    return 1
  fi
  return 0
}

smoke_engine_stop() {
  if [[ -n $SMOKE_PODMAN_SERVICE_PID ]]; then
    kill "$SMOKE_PODMAN_SERVICE_PID" 2>/dev/null
    wait "$SMOKE_PODMAN_SERVICE_PID" 2>/dev/null
    SMOKE_PODMAN_SERVICE_PID=
  fi
  return 0
}
