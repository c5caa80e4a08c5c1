#!/usr/bin/env bash
# Installs what the integration tests need and do not build themselves: the PostgreSQL and
# MariaDB servers (the tests start throwaway instances of them, see tests/it/support), their
# command-line clients, OpenSSL's headers for the connectorx feature (Debian/Ubuntu packages,
# through apt-get), and a Python environment with pyarrow and DuckDB, the independent Parquet
# readers of tests/it/readers.rs, plus moto's S3 server and the Azure SDK for the object-store
# tests (from PyPI, into $STAGE_TEST_VENV, default ~/.cache/stage/test-venv), and Azurite, the
# Azure Storage emulator (from npm, into $STAGE_TEST_AZURITE_DIR, default ~/.cache/stage/azurite).
#
# Quiet and idempotent: prints one line when everything is present. Installs only as root or
# with passwordless sudo; otherwise prints the command to run and exits 1. Never starts a
# service: the packages' own services stay stopped (policy-rc.d) while installing.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

# An executable named $1 on PATH or in one of the other directories given.
find_tool() {
  local name=$1 dir
  shift
  have "$name" && return 0
  for dir in "$@"; do
    [[ -x "$dir/$name" ]] && return 0
  done
  return 1
}

pg_server_present() {
  local bin
  for bin in /usr/lib/postgresql/*/bin; do
    [[ -x "$bin/initdb" && -x "$bin/pg_ctl" ]] && return 0
  done
  have initdb && have pg_ctl
}

missing_packages() {
  local sbin=(/usr/sbin /usr/local/sbin /sbin)
  pg_server_present || echo postgresql
  # Debian's psql is a wrapper that fails when no client version is installed.
  { have psql && psql --version >/dev/null 2>&1; } || echo postgresql-client
  if ! { find_tool mariadbd "${sbin[@]}" || find_tool mysqld "${sbin[@]}"; } ||
    ! { find_tool mariadb-install-db || find_tool mysql_install_db; }; then
    echo mariadb-server
  fi
  { find_tool mariadb || find_tool mysql; } || echo mariadb-client
  # The 1M-row MySQL memory test measures peak RSS with GNU time.
  [[ -x /usr/bin/time ]] || echo time
  # Build headers for `--all-features`: ConnectorX's PostgreSQL source links OpenSSL
  # (through pkg-config; .cargo/config.toml sets OPENSSL_NO_VENDOR).
  python3 -c 'import venv, ensurepip' 2>/dev/null || echo python3-venv
  have pkg-config || echo pkg-config
  { have pkg-config && pkg-config --exists openssl; } || echo libssl-dev
  # Azurite (tests/it/support/azurite.rs) runs on Node.js, installed with npm.
  have node || echo nodejs
  have npm || echo npm
}

# The independent-reader test (tests/it/readers.rs) reads stage's Parquet with pyarrow and
# DuckDB from a virtual environment outside the clone, shared by later runs.
venv=${STAGE_TEST_VENV:-$HOME/.cache/stage/test-venv}
# moto's server mode is the S3 server of tests/it/support/s3.rs; azure-storage-blob creates
# Azurite's containers; deploy/k8s/ is checked offline against the Kubernetes schemas
# (tests/it/deploy_k8s.rs).
python_readers=(pyarrow==26.0.1 duckdb==1.4.4 'moto[server]==5.2.1' azure-storage-blob==12.31.1
  kubernetes-validate==1.37.0)
ensure_python_readers() {
  "$venv/bin/python" -c 'import pyarrow, duckdb, moto.server, azure.storage.blob, kubernetes_validate' 2>/dev/null &&
    [[ -x $venv/bin/moto_server ]] && return 0
  echo "installing into $venv: ${python_readers[*]}"
  [[ -x $venv/bin/python ]] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q "${python_readers[@]}"
}
azurite_dir=${STAGE_TEST_AZURITE_DIR:-$HOME/.cache/stage/azurite}
ensure_azurite() {
  [[ -x $azurite_dir/node_modules/.bin/azurite-blob ]] && return 0
  echo "installing azurite@3.35.0 into $azurite_dir"
  mkdir -p "$azurite_dir"
  npm install --prefix "$azurite_dir" --no-audit --no-fund --loglevel=error azurite@3.35.0 >/dev/null
}

mapfile -t missing < <(missing_packages)
if [[ ${#missing[@]} -eq 0 ]]; then
  ensure_python_readers
  ensure_azurite
  echo "test dependencies present"
  exit 0
fi

install_line="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [[ $(id -u) -eq 0 ]]; then
  sudo=()
elif have sudo && sudo -n true 2>/dev/null; then
  sudo=(sudo)
else
  echo "missing test dependencies: ${missing[*]}; install them as root with:" >&2
  echo "  sudo sh -c '$install_line'" >&2
  exit 1
fi
if ! have apt-get; then
  echo "missing test dependencies: ${missing[*]}; apt-get not found: install the PostgreSQL" \
    "and MariaDB servers and clients with this system's package manager" >&2
  exit 1
fi

echo "installing test dependencies: ${missing[*]}"
# Package scripts ask policy-rc.d whether they may start their service: answer no (101), unless
# the system already has a policy of its own.
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  trap '"${sudo[@]}" rm -f "$policy"' EXIT
fi
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

mapfile -t still_missing < <(missing_packages)
if [[ ${#still_missing[@]} -gt 0 ]]; then
  echo "still missing after installing: ${still_missing[*]}" >&2
  exit 1
fi
echo "test dependencies installed: ${missing[*]}"
ensure_python_readers
ensure_azurite
