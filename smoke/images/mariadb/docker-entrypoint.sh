#!/bin/bash
# Entry point of the mariadb:11 stand-in (see Containerfile). Runs as user mysql.
set -euo pipefail

if [[ ${1:-} == -* ]]; then set -- mariadbd "$@"; fi
if [[ ${1:-} != mariadbd && ${1:-} != mysqld ]]; then exec "$@"; fi

file_env() { # VAR [MYSQL_VAR]: VAR, VAR_FILE, MYSQL_VAR or MYSQL_VAR_FILE
  local var=$1 alt=${2:-} v=
  if [[ -n ${!var:-} ]]; then v=${!var}
  elif [[ -n $(eval "echo \${${var}_FILE:-}") ]]; then v=$(<"$(eval "echo \${${var}_FILE}")")
  elif [[ -n $alt && -n ${!alt:-} ]]; then v=${!alt}
  elif [[ -n $alt && -n $(eval "echo \${${alt}_FILE:-}") ]]; then v=$(<"$(eval "echo \${${alt}_FILE}")")
  fi
  printf -v "$var" '%s' "$v"
}
file_env MARIADB_ROOT_PASSWORD MYSQL_ROOT_PASSWORD
file_env MARIADB_DATABASE MYSQL_DATABASE
file_env MARIADB_USER MYSQL_USER
file_env MARIADB_PASSWORD MYSQL_PASSWORD
file_env MARIADB_ALLOW_EMPTY_ROOT_PASSWORD MYSQL_ALLOW_EMPTY_PASSWORD
file_env MARIADB_ROOT_HOST MYSQL_ROOT_HOST
: "${MARIADB_ROOT_HOST:=%}"
DATADIR=/var/lib/mysql

sql_str() { # a single-quoted SQL string literal
  local s=${1//\\/\\\\}
  printf "'%s'" "${s//\'/\'\'}"
}
# shellcheck disable=SC2016 # backquotes, not an expansion
sql_id() { printf '`%s`' "${1//\`/\`\`}"; }

if [[ ! -d $DATADIR/mysql ]]; then
  if [[ -z $MARIADB_ROOT_PASSWORD && -z $MARIADB_ALLOW_EMPTY_ROOT_PASSWORD ]]; then
    echo 'error: database is uninitialized and MARIADB_ROOT_PASSWORD is not set (or MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)' >&2
    exit 1
  fi
  echo 'Initializing database files'
  # root@localhost (OS user root) and mysql@localhost (OS user mysql, which we are) by unix_socket;
  # root's password comes below.
  mariadb-install-db --datadir="$DATADIR" --skip-test-db --auth-root-authentication-method=socket \
    --auth-root-socket-user=mysql --skip-name-resolve >/dev/null

  # The initialisation server: no TCP, a socket of its own, so that health checks (the usual
  # socket) fail until the init scripts have run and the real server is up.
  sock=/run/mysqld/init.sock
  "$@" --skip-networking --socket="$sock" &
  pid=$!
  client=(mariadb --protocol=socket --socket="$sock")
  for ((i = 0; i < 60; i++)); do
    "${client[@]}" -e 'SELECT 1' >/dev/null 2>&1 && break
    kill -0 "$pid" 2>/dev/null || { echo 'error: the initialisation server stopped' >&2; exit 1; }
    sleep 1
  done

  init="SET @@SESSION.SQL_LOG_BIN=0;"
  if [[ -n $MARIADB_ROOT_PASSWORD ]]; then
    pw=$(sql_str "$MARIADB_ROOT_PASSWORD")
    init+="ALTER USER root@localhost IDENTIFIED VIA mysql_native_password USING PASSWORD($pw) OR unix_socket;"
    if [[ $MARIADB_ROOT_HOST != localhost ]]; then
      init+="CREATE USER root@$(sql_str "$MARIADB_ROOT_HOST") IDENTIFIED BY $pw;"
      init+="GRANT ALL ON *.* TO root@$(sql_str "$MARIADB_ROOT_HOST") WITH GRANT OPTION;"
    fi
  elif [[ $MARIADB_ROOT_HOST != localhost ]]; then
    init+="CREATE USER root@$(sql_str "$MARIADB_ROOT_HOST");"
    init+="GRANT ALL ON *.* TO root@$(sql_str "$MARIADB_ROOT_HOST") WITH GRANT OPTION;"
  fi
  if [[ -n $MARIADB_DATABASE ]]; then
    init+="CREATE DATABASE IF NOT EXISTS $(sql_id "$MARIADB_DATABASE");"
  fi
  if [[ -n $MARIADB_USER && -n $MARIADB_PASSWORD ]]; then
    init+="CREATE USER $(sql_str "$MARIADB_USER")@'%' IDENTIFIED BY $(sql_str "$MARIADB_PASSWORD");"
    [[ -n $MARIADB_DATABASE ]] &&
      init+="GRANT ALL ON $(sql_id "$MARIADB_DATABASE").* TO $(sql_str "$MARIADB_USER")@'%';"
  fi
  "${client[@]}" -e "$init"

  db=()
  [[ -n $MARIADB_DATABASE ]] && db=("$MARIADB_DATABASE")
  for f in /docker-entrypoint-initdb.d/*; do
    [[ -e $f ]] || continue
    case $f in
      *.sh)
        if [[ -x $f ]]; then echo "running $f"; "$f"; else echo "sourcing $f"; # shellcheck disable=SC1090
          . "$f"; fi ;;
      *.sql) echo "running $f"; "${client[@]}" "${db[@]}" <"$f" ;;
      *.sql.gz) echo "running $f"; gunzip -c "$f" | "${client[@]}" "${db[@]}" ;;
      *.sql.xz) echo "running $f"; xz -dc "$f" | "${client[@]}" "${db[@]}" ;;
      *) echo "ignoring $f" ;;
    esac
  done
  mariadb-admin --protocol=socket --socket="$sock" shutdown
  wait "$pid" || true
  echo 'MariaDB init process done. Ready for start up.'
fi

exec "$@"
