#!/usr/bin/env bash
# Smoke suite for `stage`.
#
#   smoke/run.sh [--containers]
#                           every docker/config/*.ini case against the compose stack
#                           (docker/compose.yml): makes the images that are missing
#                           (smoke/images.sh; podman is installed when there is no engine),
#                           builds the `stage` image, starts and seeds the servers, runs each
#                           case with `timeout 300`, checks the destination. See smoke/README.md.
#   smoke/run.sh --local    no containers: the local cases (PostgreSQL, MariaDB, SQLite) as the
#                           Rust integration test tests/it/smoke_local.rs, on throwaway servers
#
# Container variant, environment:
#   SMOKE_ONLY=REGEX           run only the cases whose name (e.g. mssql-to-postgres-dump) matches
#   SMOKE_STAGE_BUILD=host     (default) `stage` is built on the host (cargo --profile dist
#                              --features connectorx) and copied into the image (Dockerfile
#                              target `prebuilt`); =image builds it inside the image (target
#                              `runtime`, the release path, ~40 min on 2 cores)
#   SMOKE_STAGE_BIN=PATH       with host: use this binary instead of building one
#   SMOKE_MSSQL=auto|1|0       SQL Server cases: auto (default) = when its image is present or
#                              can be pulled; 0 = skip them
#   SMOKE_ORACLE=auto|1|0      Oracle cases: auto (default) = when the image was built with
#                              Oracle Instant Client (ORACLE_INSTANT_CLIENT_URL) and the Oracle
#                              image is present or can be pulled; 0 = skip them
#   SMOKE_IMAGES=0             do not run smoke/images.sh
#   SMOKE_KEEP=1               leave the stack running afterwards (default: down -v)
#   SMOKE_CASE_TIMEOUT=300     seconds per `stage` run
#   ORACLE_INSTANT_CLIENT_URL  passed to the image build (see docker/Dockerfile)
#   SMOKE_ENGINE, SMOKE_STATE_DIR, CARGO_TARGET_DIR: see smoke/lib.sh; cargo's as usual
#
# Prints one line per case (PASS, FAIL, SKIP with the reason) and, last, exactly
# `N passed, N failed, N skipped`; exits 1 if any case failed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 2

case ${1:-} in
  --local)
    shift
    exec cargo test --all-features --test it smoke_local -- --nocapture "$@" ;;
  --containers) shift ;;
esac
if [[ $# -gt 0 ]]; then
  echo "usage: smoke/run.sh [--containers | --local]" >&2
  exit 2
fi

# expected.env holds KEY=VALUE lines whose values contain `|`: read, never `source`d.
declare -A EXPECTED=()
while IFS= read -r line || [[ -n $line ]]; do
  [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
  [[ $line =~ ^([A-Z0-9_]+)=(.*)$ ]] || { echo "docker/seed/expected.env: bad line: $line" >&2; exit 2; }
  EXPECTED[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <docker/seed/expected.env
for key in SMOKE_PEOPLE_CHECKSUM SMOKE_EMPTY_CHECKSUM SMOKE_PEOPLE_TIMES SMOKE_EMPTY_TIMES; do
  [[ -n ${EXPECTED[$key]:-} ]] || { echo "docker/seed/expected.env: no $key" >&2; exit 2; }
done

CASE_TIMEOUT=${SMOKE_CASE_TIMEOUT:-300}
ONLY=${SMOKE_ONLY:-}
WANT_MSSQL=${SMOKE_MSSQL:-auto}
WANT_ORACLE=${SMOKE_ORACLE:-auto}
STAGE_BUILD=${SMOKE_STAGE_BUILD:-host}
MSSQL_PW=Smoke_Passw0rd
MARIA_PW=smoke_maria_pw
MSSQL_IMAGE=mcr.microsoft.com/mssql/server:2022-latest
ORACLE_IMAGE=gvenzl/oracle-free:slim
STARTED=$SECONDS

# shellcheck source=smoke/lib.sh
source "$ROOT/smoke/lib.sh"
log() { smoke_log "$*"; }

smoke_engine_init || exit 2
smoke_compose_init || exit 2
DC+=(-p stage-smoke -f docker/compose.yml)
HEALTH_PID=
cleanup() {
  if [[ -n $HEALTH_PID ]]; then
    kill "$HEALTH_PID" 2>/dev/null
    wait "$HEALTH_PID" 2>/dev/null
  fi
  if [[ ${SMOKE_KEEP:-0} != 1 ]]; then
    "${DC[@]}" "${PROFILES[@]}" down -v >/dev/null 2>&1
  fi
  smoke_engine_stop
}
PROFILES=()
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- images -------------------------------------------------------------------------------
if [[ ${SMOKE_IMAGES:-1} != 0 ]]; then
  bash "$ROOT/smoke/images.sh" || { log "smoke/images.sh failed"; exit 1; }
fi

log "building the stage image ($STAGE_BUILD)"
build_started=$SECONDS
if [[ $STAGE_BUILD == host ]]; then
  bin=${SMOKE_STAGE_BIN:-}
  if [[ -z $bin ]]; then
    target_dir=${CARGO_TARGET_DIR:-$ROOT/target}
    log "cargo build --profile dist --features connectorx --bin stage (CARGO_TARGET_DIR=$target_dir)"
    CARGO_TARGET_DIR=$target_dir cargo build --locked --profile dist --features connectorx --bin stage >&2 || exit 1
    bin=$target_dir/dist/stage
  fi
  [[ -x $bin ]] || { log "no stage binary at $bin"; exit 1; }
  # Copied only when it changed, so the image build stays cached. Stripped (a debug build is
  # ten times the size); the dist profile's binary is stripped already.
  tmp=$(mktemp)
  cp "$bin" "$tmp" && { strip "$tmp" 2>/dev/null || true; }
  if ! cmp -s "$tmp" docker/prebuilt/stage; then
    install -m 0755 "$tmp" docker/prebuilt/stage
  fi
  rm -f "$tmp"
  export STAGE_IMAGE_TARGET=prebuilt
else
  export STAGE_IMAGE_TARGET=runtime
fi
old_image=$(docker image inspect --format '{{.Id}}' stage-smoke/stage:latest 2>/dev/null)
"${DC[@]}" build stage >&2 || exit 1
# The image of the previous binary, now nameless: removed (fails harmlessly while in use).
if [[ -n $old_image && $old_image != "$(docker image inspect --format '{{.Id}}' stage-smoke/stage:latest 2>/dev/null)" ]]; then
  docker rmi "$old_image" >/dev/null 2>&1 || true
fi
log "stage image: $(docker image inspect --format '{{.Size}}' stage-smoke/stage:latest 2>/dev/null |
  awk '{printf "%.1f MB", $1 / 1e6}') ($((SECONDS - build_started))s)"

# --- which servers ---------------------------------------------------------------------------
# Present locally, or pulled within 60 s.
image_available() {
  docker image inspect "$1" >/dev/null 2>&1 && return 0
  timeout 60 docker pull -q "$1" >/dev/null 2>&1
}
MSSQL_WHY="" ORACLE_WHY=""
if [[ $WANT_MSSQL == auto ]]; then
  if image_available "$MSSQL_IMAGE"; then
    WANT_MSSQL=1
  else
    WANT_MSSQL=0
    MSSQL_WHY="image $MSSQL_IMAGE not present and not pullable (no container registry reachable)"
  fi
elif [[ $WANT_MSSQL == 0 ]]; then
  MSSQL_WHY="SMOKE_MSSQL=0"
fi
if [[ $WANT_ORACLE == auto ]]; then
  WANT_ORACLE=1
  if ! "${DC[@]}" run --rm -T --no-deps --entrypoint /bin/sh stage -c 'test -e /opt/oracle/instantclient/libclntsh.so' >/dev/null 2>&1; then
    WANT_ORACLE=0
    ORACLE_WHY="the stage image has no Oracle Instant Client (build with ORACLE_INSTANT_CLIENT_URL)"
  fi
  if ! image_available "$ORACLE_IMAGE"; then
    WANT_ORACLE=0
    ORACLE_WHY="${ORACLE_WHY:+$ORACLE_WHY; }image $ORACLE_IMAGE not present and not pullable (no container registry reachable)"
  fi
elif [[ $WANT_ORACLE == 0 ]]; then
  ORACLE_WHY="SMOKE_ORACLE=0"
fi
[[ -n $MSSQL_WHY ]] && log "SQL Server cases skipped: $MSSQL_WHY"
[[ -n $ORACLE_WHY ]] && log "Oracle cases skipped: $ORACLE_WHY"

services=(postgres mariadb)
if [[ $WANT_MSSQL == 1 ]]; then
  PROFILES+=(--profile mssql)
  services+=(mssql)
fi
if [[ $WANT_ORACLE == 1 ]]; then
  PROFILES+=(--profile oracle)
  services+=(oracle)
fi
DCP=("${DC[@]}" "${PROFILES[@]}")

# --- start, wait, seed -------------------------------------------------------------------------
# Podman 4 schedules health checks with systemd timers; without systemd (these VMs) nothing runs
# them, and `depends_on: service_healthy` would wait for ever. This loop runs them instead, for
# the whole run (a `compose run` checks its dependencies' health again).
health_driver() {
  local id
  while :; do
    for id in $(podman ps -q --filter label=com.docker.compose.project=stage-smoke 2>/dev/null); do
      [[ $(podman inspect --format '{{if .Config.Healthcheck}}y{{end}}' "$id" 2>/dev/null) == y ]] || continue
      podman healthcheck run "$id" >/dev/null 2>&1
    done
    sleep 2
  done
}
if [[ $ENGINE == podman ]]; then
  health_driver &
  HEALTH_PID=$!
fi

# Waits until the compose service $1 reports healthy (at most $2 seconds).
wait_healthy() {
  local service=$1 limit=$2 id state waited=0
  while ((waited < limit)); do
    id=$("${DCP[@]}" ps -q "$service" 2>/dev/null)
    if [[ -n $id ]]; then
      state=$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)
      [[ $state == healthy ]] && return 0
    fi
    sleep 2
    waited=$((waited + 2))
  done
  log "$service not healthy after ${limit}s; its log:"
  "${DCP[@]}" logs --tail 30 "$service" >&2
  return 1
}

"${DCP[@]}" down -v >/dev/null 2>&1 # leftovers of an interrupted run
log "starting ${services[*]}"
servers_started=$SECONDS
"${DCP[@]}" up -d "${services[@]}" || exit 1
for s in "${services[@]}"; do
  limit=300
  [[ $s == oracle ]] && limit=900
  wait_healthy "$s" "$limit" || exit 1
done
log "servers healthy ($((SECONDS - servers_started))s)"
if [[ $WANT_MSSQL == 1 ]]; then
  log "seeding SQL Server"
  "${DCP[@]}" run --rm -T mssql-seed || exit 1
fi
log "seeding the SQLite source"
"${DCP[@]}" run --rm -T --no-deps sqlite-seed || exit 1

# --- checks ------------------------------------------------------------------------------------
# Checksum SQL per destination dialect, one line:
#   count|sum(id)|sum(chars of name)|sum(amount*100)|count(born)|count(note)|sum(active)
#   |sum(days of born since 1970-01-01)|sum(µs of updated_at since 1970-01-01 00:00:00)
# = docker/seed/expected.env's *_CHECKSUM|*_TIMES. The first seven are those of
# tests/it/smoke_local.rs; the last two catch a date or timestamp shifted on the way.
checksum_sql() {
  local dialect=$1 table=$2
  case $dialect in
    postgres)
      echo "SELECT concat_ws('|', count(*), coalesce(sum(id), 0), coalesce(sum(char_length(name)), 0), coalesce(sum(round(amount * 100)::bigint), 0), count(born), count(note), coalesce(sum(active::int), 0), coalesce(sum(born - DATE '1970-01-01'), 0), coalesce(sum((extract(epoch FROM updated_at) * 1000000)::bigint), 0)) FROM $table" ;;
    mariadb)
      echo "SELECT CONCAT_WS('|', COUNT(*), COALESCE(SUM(id), 0), COALESCE(SUM(CHAR_LENGTH(name)), 0), COALESCE(CAST(SUM(amount * 100) AS SIGNED), 0), COUNT(born), COUNT(note), COALESCE(SUM(active), 0), COALESCE(SUM(DATEDIFF(born, '1970-01-01')), 0), COALESCE(SUM(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', updated_at)), 0)) FROM $table" ;;
    # NVARCHAR: DATALENGTH/2 counts UTF-16 units = characters for the seed's BMP-only names
    # (LEN would drop trailing spaces).
    mssql)
      echo "SET NOCOUNT ON; SELECT CONCAT(COUNT(*), '|', COALESCE(SUM(CAST(id AS BIGINT)), 0), '|', COALESCE(SUM(CAST(DATALENGTH(name) / 2 AS BIGINT)), 0), '|', COALESCE(CAST(SUM(amount * 100) AS BIGINT), 0), '|', COUNT(born), '|', COUNT(note), '|', COALESCE(SUM(CAST(active AS INT)), 0), '|', COALESCE(SUM(CAST(DATEDIFF(DAY, '19700101', born) AS BIGINT)), 0), '|', COALESCE(SUM(DATEDIFF_BIG(MICROSECOND, CAST('19700101' AS DATETIME2(6)), updated_at)), 0)) FROM $table" ;;
    # Staged timestamps are text `YYYY-MM-DD HH:MM:SS.ffffff` (src/types/sqlite.rs): seconds
    # from strftime, the six digits of the fraction from the text.
    sqlite)
      echo "SELECT count(*) || '|' || coalesce(sum(id), 0) || '|' || coalesce(sum(length(name)), 0) || '|' || coalesce(sum(CAST(round(CAST(amount AS REAL) * 100) AS INTEGER)), 0) || '|' || count(born) || '|' || count(note) || '|' || coalesce(sum(active), 0) || '|' || coalesce(sum(CAST(round(julianday(born) - 2440587.5) AS INTEGER)), 0) || '|' || coalesce(sum(CAST(strftime('%s', updated_at) AS INTEGER) * 1000000 + CAST(substr(updated_at, 21, 6) AS INTEGER)), 0) FROM \"$table\"" ;;
  esac
}

# The checksum of staging table $3 for case source $1 / mode $2 on destination $4.
dest_checksum() {
  local src=$1 mode=$2 table=$3 dst=$4 place="s_${1}_${2}"
  case $dst in
    postgres)
      timeout 60 "${DCP[@]}" exec -T postgres psql -U postgres -d staging -At -v ON_ERROR_STOP=1 \
        -c "$(checksum_sql postgres "\"$place\".\"$table\"")" ;;
    mariadb)
      timeout 60 "${DCP[@]}" exec -T -e MYSQL_PWD="$MARIA_PW" mariadb mariadb -uroot -N -B \
        -D "$place" -e "$(checksum_sql mariadb "\`$table\`")" ;;
    mssql)
      timeout 60 "${DCP[@]}" exec -T mssql /opt/mssql-tools18/bin/sqlcmd -C -S localhost -U sa \
        -P "$MSSQL_PW" -d staging -b -h -1 -W -Q "$(checksum_sql mssql "[$place].[$table]")" ;;
    sqlite)
      timeout 60 "${DCP[@]}" run --rm -T --no-deps --entrypoint sqlite3 stage \
        "/data/stg_${src}_${mode}.sqlite" "$(checksum_sql sqlite "$table")" ;;
  esac
}

# Why case $1 cannot run here (empty: it can).
skip_reason() {
  local src=$1 dst=$2 side
  for side in "$src" "$dst"; do
    case $side in
      mssql) [[ $WANT_MSSQL == 1 ]] || { echo "SQL Server: $MSSQL_WHY"; return; } ;;
      oracle) [[ $WANT_ORACLE == 1 ]] || { echo "Oracle: $ORACLE_WHY"; return; } ;;
    esac
  done
}

# --- cases -------------------------------------------------------------------------------------
log "running the cases"
cases_started=$SECONDS
passed=0 failed=0 skipped=0
for ini in docker/config/*-to-*.ini; do
  name=$(basename "$ini" .ini)
  [[ -n $ONLY && ! $name =~ $ONLY ]] && continue
  src=${name%%-to-*}
  rest=${name#*-to-}
  dst=${rest%-*}
  mode=${rest##*-}
  why=$(skip_reason "$src" "$dst")
  if [[ -n $why ]]; then
    echo "SKIP $name ($why)"
    skipped=$((skipped + 1))
    continue
  fi
  start=$SECONDS
  out=$(timeout "$CASE_TIMEOUT" "${DCP[@]}" run --rm -T stage --config "/config/$name.ini" 2>&1)
  code=$?
  why=""
  if ((code == 124)); then
    why="timed out after ${CASE_TIMEOUT}s"
  elif ((code != 0)); then
    why="stage exited $code: $(printf '%s\n' "$out" | tail -n 5 | tr '\n' ' ')"
  else
    for table in smoke_people smoke_empty; do
      key=${table^^}
      want="${EXPECTED[${key}_CHECKSUM]}|${EXPECTED[${key}_TIMES]}"
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

log "cases: $((SECONDS - cases_started))s; whole run: $((SECONDS - STARTED))s"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
