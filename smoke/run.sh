#!/usr/bin/env bash
# Smoke suite for `stage`.
#
#   smoke/run.sh            every docker/config/*.ini case against the compose stack
#                           (docker/compose.yml): builds the image, starts and seeds the
#                           servers, runs each case with `timeout 300`, checks the destination
#   smoke/run.sh --local    no Docker: the local cases (PostgreSQL, MariaDB, SQLite) as the Rust
#                           integration test tests/it/smoke_local.rs, on throwaway servers
#
# Docker variant, environment:
#   SMOKE_ONLY=REGEX           run only the cases whose name (e.g. mssql-to-postgres-dump) matches
#   SMOKE_ORACLE=auto|1|0      Oracle cases: auto (default) = when the image was built with
#                              Oracle Instant Client (ORACLE_INSTANT_CLIENT_URL); 0 = skip them
#   SMOKE_KEEP=1               leave the stack running afterwards (default: down -v)
#   SMOKE_CASE_TIMEOUT=300     seconds per `stage` run
#   ORACLE_INSTANT_CLIENT_URL  passed to the image build (see docker/Dockerfile)
#
# Prints one line per case and, last, exactly `N passed, N failed`; exits 1 if any case failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

if [[ ${1:-} == --local ]]; then
  shift
  exec cargo test --all-features --test it smoke_local -- --nocapture "$@"
fi
if [[ $# -gt 0 ]]; then
  echo "usage: smoke/run.sh [--local]" >&2
  exit 2
fi

# shellcheck disable=SC1091
source docker/seed/expected.env
CASE_TIMEOUT=${SMOKE_CASE_TIMEOUT:-300}
ONLY=${SMOKE_ONLY:-}
WANT_ORACLE=${SMOKE_ORACLE:-auto}
MSSQL_PW=Smoke_Passw0rd
MARIA_PW=smoke_maria_pw

if docker compose version >/dev/null 2>&1; then
  DC=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
  DC=(docker-compose)
else
  echo "neither 'docker compose' nor 'docker-compose' found; for the local cases use: smoke/run.sh --local" >&2
  exit 2
fi
DC+=(-p stage-smoke -f docker/compose.yml)

log() { printf '[smoke] %s\n' "$*" >&2; }

# Waits until the compose service $1 reports healthy (at most $2 seconds).
wait_healthy() {
  local service=$1 limit=$2 id state waited=0
  while ((waited < limit)); do
    id=$("${DC[@]}" ps -q "$service" 2>/dev/null)
    if [[ -n $id ]]; then
      state=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
      [[ $state == healthy ]] && return 0
    fi
    sleep 5
    waited=$((waited + 5))
  done
  log "$service not healthy after ${limit}s"
  return 1
}

# Checksum SQL per destination dialect; the same columns as tests/it/smoke_local.rs:
# count|sum(id)|sum(chars of name)|sum(amount*100)|count(born)|count(note)|sum(active)
checksum_sql() {
  local dialect=$1 table=$2
  case $dialect in
    postgres)
      echo "SELECT concat_ws('|', count(*), coalesce(sum(id), 0), coalesce(sum(char_length(name)), 0), coalesce(sum(round(amount * 100)::bigint), 0), count(born), count(note), coalesce(sum(active::int), 0)) FROM $table" ;;
    mariadb)
      echo "SELECT CONCAT_WS('|', COUNT(*), COALESCE(SUM(id), 0), COALESCE(SUM(CHAR_LENGTH(name)), 0), COALESCE(CAST(SUM(amount * 100) AS SIGNED), 0), COUNT(born), COUNT(note), COALESCE(SUM(active), 0)) FROM $table" ;;
    # NVARCHAR: DATALENGTH/2 counts UTF-16 units = characters for the seed's BMP-only names
    # (LEN would drop trailing spaces).
    mssql)
      echo "SET NOCOUNT ON; SELECT CONCAT(COUNT(*), '|', COALESCE(SUM(CAST(id AS BIGINT)), 0), '|', COALESCE(SUM(CAST(DATALENGTH(name) / 2 AS BIGINT)), 0), '|', COALESCE(CAST(SUM(amount * 100) AS BIGINT), 0), '|', COUNT(born), '|', COUNT(note), '|', COALESCE(SUM(CAST(active AS INT)), 0)) FROM $table" ;;
    sqlite)
      echo "SELECT count(*) || '|' || coalesce(sum(id), 0) || '|' || coalesce(sum(length(name)), 0) || '|' || coalesce(sum(CAST(round(CAST(amount AS REAL) * 100) AS INTEGER)), 0) || '|' || count(born) || '|' || count(note) || '|' || coalesce(sum(active), 0) FROM \"$table\"" ;;
  esac
}

# The checksum of staging table $3 for case source $1 / mode $2 on destination $4.
dest_checksum() {
  local src=$1 mode=$2 table=$3 dst=$4 place="s_${1}_${2}"
  case $dst in
    postgres)
      timeout 60 "${DC[@]}" exec -T postgres psql -U postgres -d staging -At -v ON_ERROR_STOP=1 \
        -c "$(checksum_sql postgres "\"$place\".\"$table\"")" ;;
    mariadb)
      timeout 60 "${DC[@]}" exec -T -e MYSQL_PWD="$MARIA_PW" mariadb mariadb -uroot -N -B \
        -D "$place" -e "$(checksum_sql mariadb "\`$table\`")" ;;
    mssql)
      timeout 60 "${DC[@]}" exec -T mssql /opt/mssql-tools18/bin/sqlcmd -C -S localhost -U sa \
        -P "$MSSQL_PW" -d staging -b -h -1 -W -Q "$(checksum_sql mssql "[$place].[$table]")" ;;
    sqlite)
      timeout 60 "${DC[@]}" run --rm -T --entrypoint sqlite3 stage \
        "/data/stg_${src}_${mode}.sqlite" "$(checksum_sql sqlite "$table")" ;;
  esac
}

log "building the stage image"
"${DC[@]}" build stage || exit 1

if [[ $WANT_ORACLE == auto ]]; then
  if "${DC[@]}" run --rm -T --no-deps --entrypoint /bin/sh stage -c 'test -e /opt/oracle/instantclient/libclntsh.so' >/dev/null 2>&1; then
    WANT_ORACLE=1
  else
    WANT_ORACLE=0
    log "the image has no Oracle Instant Client: Oracle cases are skipped (build with ORACLE_INSTANT_CLIENT_URL)"
  fi
fi

services=(postgres mariadb mssql)
if [[ $WANT_ORACLE == 1 ]]; then
  DC+=(--profile oracle)
  services+=(oracle)
fi
log "starting ${services[*]}"
"${DC[@]}" up -d "${services[@]}" || exit 1
for s in "${services[@]}"; do
  limit=300
  [[ $s == oracle ]] && limit=900
  wait_healthy "$s" "$limit" || exit 1
done
log "seeding SQL Server and the SQLite source"
"${DC[@]}" run --rm -T mssql-seed || exit 1
"${DC[@]}" run --rm -T --no-deps sqlite-seed || exit 1

passed=0 failed=0 skipped=0
for ini in docker/config/*-to-*.ini; do
  name=$(basename "$ini" .ini)
  [[ -n $ONLY && ! $name =~ $ONLY ]] && continue
  src=${name%%-to-*}
  rest=${name#*-to-}
  dst=${rest%-*}
  mode=${rest##*-}
  if [[ $src == oracle && $WANT_ORACLE != 1 ]]; then
    echo "SKIP $name (no Oracle in this run)"
    skipped=$((skipped + 1))
    continue
  fi
  start=$SECONDS
  out=$(timeout "$CASE_TIMEOUT" "${DC[@]}" run --rm -T stage --config "/config/$name.ini" 2>&1)
  code=$?
  why=""
  if ((code == 124)); then
    why="timed out after ${CASE_TIMEOUT}s"
  elif ((code != 0)); then
    why="stage exited $code: $(printf '%s\n' "$out" | tail -n 5 | tr '\n' ' ')"
  else
    for table in smoke_people smoke_empty; do
      want=$SMOKE_PEOPLE_CHECKSUM
      [[ $table == smoke_empty ]] && want=$SMOKE_EMPTY_CHECKSUM
      got=$(dest_checksum "$src" "$mode" "$table" "$dst" 2>&1 | tr -d '\r' | sed '/^[[:space:]]*$/d' | tail -n 1)
      if [[ $got != "$want" ]]; then
        why="$table: checksum '$got', expected '$want'"
        break
      fi
    done
  fi
  if [[ -z $why ]]; then
    echo "PASS $name ($((SECONDS - start))s)"
    passed=$((passed + 1))
  else
    echo "FAIL $name ($((SECONDS - start))s): $why"
    failed=$((failed + 1))
  fi
done

if [[ ${SMOKE_KEEP:-0} != 1 ]]; then
  "${DC[@]}" down -v >/dev/null 2>&1
fi
((skipped > 0)) && echo "$skipped skipped"
echo "$passed passed, $failed failed"
((failed == 0))
