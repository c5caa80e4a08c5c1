#!/bin/bash
# Entry point of the postgres:16 stand-in (see Containerfile). Runs as user postgres.
set -euo pipefail

if [[ ${1:-} == -* ]]; then set -- postgres "$@"; fi
if [[ ${1:-} != postgres ]]; then exec "$@"; fi

file_env() { # VAR: VAR, or the contents of the file VAR_FILE names
  local var=$1 file_var="${1}_FILE"
  if [[ -n ${!file_var:-} ]]; then
    export "$var"="$(<"${!file_var}")"
  fi
}
file_env POSTGRES_PASSWORD
file_env POSTGRES_USER
file_env POSTGRES_DB
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${PGDATA:=/var/lib/postgresql/data}"
export PGDATA

if [[ ! -s $PGDATA/PG_VERSION ]]; then
  auth=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}
  if [[ -z ${POSTGRES_PASSWORD:-} && $auth != trust ]]; then
    echo 'error: database is uninitialized and POSTGRES_PASSWORD is not set (or set POSTGRES_HOST_AUTH_METHOD=trust)' >&2
    exit 1
  fi
  mkdir -p "$PGDATA"
  chmod 0700 "$PGDATA"
  # UTF-8, whatever the locale: with SQL_ASCII, length() counts bytes.
  # shellcheck disable=SC2086
  initdb --username="$POSTGRES_USER" --pwfile=<(printf '%s\n' "${POSTGRES_PASSWORD:-}") \
    --encoding=UTF8 --locale=C.UTF-8 ${POSTGRES_INITDB_ARGS:-} -D "$PGDATA"
  printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"
  printf "\nlisten_addresses = '*'\nunix_socket_directories = '/var/run/postgresql'\n" >>"$PGDATA/postgresql.conf"

  # The initialisation server listens on a private socket only: health checks (pg_isready on
  # the usual socket) fail until the init scripts have run and the real server is up.
  sockdir=$(mktemp -d)
  pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=$sockdir" start
  export PGHOST=$sockdir PGPASSWORD=${POSTGRES_PASSWORD:-}
  psql=(psql -v ON_ERROR_STOP=1 --no-psqlrc --username "$POSTGRES_USER" --no-password)
  if [[ $POSTGRES_DB != postgres ]]; then
    "${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
  fi
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e $f ]] || continue
    case $f in
      *.sh)
        if [[ -x $f ]]; then echo "running $f"; "$f"; else echo "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) echo "running $f"; "${psql[@]}" --dbname "$POSTGRES_DB" -f "$f" >/dev/null ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" >/dev/null ;;
      *.sql.xz) echo "running $f"; xz -dc "$f" | "${psql[@]}" --dbname "$POSTGRES_DB" >/dev/null ;;
      *) echo "ignoring $f" ;;
    esac
  done
  pg_ctl -D "$PGDATA" -m fast -w stop
  rmdir "$sockdir" 2>/dev/null || true
  unset PGHOST PGPASSWORD
  echo 'PostgreSQL init process complete; ready for start up.'
fi

exec "$@"
