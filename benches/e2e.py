#!/usr/bin/env python3
"""End-to-end benchmark: stage against PostgreSQL's own limits, on this machine.

Starts a throwaway PostgreSQL, creates a deterministic mixed-type table of N rows, then
times, alternating over rounds: COPY ... TO STDOUT (FORMAT binary) to /dev/null; a psql |
psql binary COPY pipe into a staging table; stage in DUMP (PG -> Parquet -> PG), DUMP
without load (`stage dump`), DIRECT, dump and DIRECT with READ_CONNECTIONS=2, and CONNECTORX
with 1 and 2 partitions; plus, when a
Python with them is given (--refs-python), DuckDB's postgres scanner and ConnectorX +
pyarrow writing zstd Parquet. Prints wall time, rows/s, peak RSS and each stage figure as a
ratio to the matching COPY reference, and writes benches/RESULTS.md.

    python3 benches/e2e.py --rows 5000000 --rounds 2 [--refs-python /work/bench-venv/bin/python]
    python3 benches/e2e.py --rows 500000 --parallel     # 8 tables, PARALLEL_TABLES 1/2/4
    python3 benches/e2e.py --rows 1000000 --mariadb     # adds the MariaDB lane (benches/e2e_mariadb.py)

Every case also shows the CPU seconds per million rows of the command (user + system of stage,
or of the clients of a reference, from GNU time's %U %S) and of the database servers (from
/proc: PostgreSQL's postmaster with its backends, mariadbd) while it ran.

Needs: PostgreSQL server binaries (scripts/install-test-deps.sh), GNU time (/usr/bin/time),
and a release build of stage with the connectorx feature (built if --stage is not given).
"""

import argparse
import datetime
import os
import platform
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import e2e_mariadb

ROOT = Path(__file__).resolve().parent.parent

TABLE_SQL = """
CREATE TABLE bench_src (
    id          bigint PRIMARY KEY,
    qty         integer NOT NULL,
    amount      numeric(15,2),
    score       double precision,
    name        varchar(40),
    note        text,
    code        char(10),
    day         date,
    at          timestamp,
    at_tz       timestamptz,
    flag        boolean,
    ref         uuid,
    sparse      integer,
    doc         jsonb
);
INSERT INTO bench_src
SELECT g,
       ((g * 7) % 1000)::int,
       ((g * 104729) % 100000000)::numeric / 100,
       (g % 9973) / 7.0,
       'name ' || (g % 50000),
       CASE WHEN g % 5 = 0 THEN 'gemeente Ĳsselstein, aanvraag ' || g ELSE 'note ' || (g % 997) END,
       lpad((g % 100000)::text, 10, '0'),
       date '1990-01-01' + (g % 12000)::int,
       timestamp '2000-01-01' + (g % 100000000) * interval '1 second',
       timestamptz '2000-01-01 00:00:00+00' + (g % 100000000) * interval '1 second',
       g % 3 = 0,
       md5(g::text)::uuid,
       CASE WHEN g % 10 < 3 THEN NULL ELSE (g % 1000)::int END,
       jsonb_build_object('k', g % 100, 'v', 'x' || (g % 37))
FROM generate_series(1::bigint, {rows}) AS g;
CREATE SCHEMA staging;
CREATE TABLE pipe_dst (LIKE bench_src);
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_bin():
    for ver in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (ver / "initdb").exists():
            return ver
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    sys.exit("no PostgreSQL server binaries: run scripts/install-test-deps.sh")


class Pg:
    def __init__(self, tls=False):
        self.bin = pg_bin()
        self.dir = Path(tempfile.mkdtemp(prefix="stage-bench-pg-"))
        self.port = free_port()
        self.user = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                try:
                    pwd.getpwnam(name)
                    self.user = name
                    break
                except KeyError:
                    pass
            shutil.chown(self.dir, self.user)
        data = self.dir / "data"
        self.run([str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"])
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off -c shared_buffers=256MB "
                "-c max_wal_size=4GB -c timezone=UTC")
        if tls:
            # A self-signed certificate: the benchmark measures encryption, not verification.
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                            "-subj", "/CN=localhost", "-keyout", str(self.dir / "server.key"),
                            "-out", str(self.dir / "server.pem")], check=True, capture_output=True)
            os.chmod(self.dir / "server.key", 0o600)
            if self.user:
                for f in ("server.key", "server.pem"):
                    shutil.chown(self.dir / f, self.user)
            opts += f" -c ssl=on -c ssl_cert_file={self.dir}/server.pem -c ssl_key_file={self.dir}/server.key"
        self.run([str(self.bin / "pg_ctl"), "-D", str(data), "-l", str(self.dir / "log"), "-w", "-o", opts, "start"])

    def run(self, cmd):
        if self.user:
            cmd = ["runuser", "-u", self.user, "--"] + cmd
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)

    def psql(self, db, sql):
        subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-d", db, "-c", sql], check=True, stdout=subprocess.DEVNULL)

    def stop(self):
        try:
            self.run([str(self.bin / "pg_ctl"), "-D", str(self.dir / "data"), "-m", "immediate", "stop"])
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def timed(cmd, env=None):
    """Runs a shell command under GNU time; returns (seconds, peak RSS bytes, user + system
    CPU seconds of the command and its children)."""
    out = tempfile.NamedTemporaryFile(delete=False)
    out.close()
    full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", out.name, "sh", "-c", cmd]
    t0 = time.monotonic()
    r = subprocess.run(full, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{r.stderr[-2000:]}")
    _, rss_kb, user, system = Path(out.name).read_text().split()[-4:]
    os.unlink(out.name)
    return wall, int(rss_kb) * 1024, float(user) + float(system)


def pg_cpu(pg):
    """CPU seconds of PostgreSQL: the postmaster, its exited backends and the live ones."""
    try:
        pid = int((pg.dir / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = e2e_mariadb.proc_cpu(pid)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            total += e2e_mariadb.proc_cpu(int(stat.parent.name), children=False)
    return total


def ini(pg, mode, out_dir, extra="", sslmode="disable"):
    return f"""[database-source]
SRC_DRIVER = postgres
SRC_SSLMODE = {sslmode}
SRC_HOST = 127.0.0.1
SRC_PORT = {pg.port}
SRC_USERNAME = postgres
SRC_DB = bench
[database-destination]
DST_DRIVER = postgres
DST_SSLMODE = {sslmode}
DST_HOST = 127.0.0.1
DST_PORT = {pg.port}
DST_USERNAME = postgres
DST_DB = bench
DST_SCHEMA = staging
[settings]
SRC_TABLES = bench_src
TRANSFER_MODE = {mode}
OUTPUT_DIR = {out_dir}
LOG_ROW_COUNT = false
{extra}
[logging]
LOG_LEVEL = WARN
"""


def dir_bytes(path):
    return sum(p.stat().st_size for p in Path(path).rglob("*.parquet"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--stage", help="path of a release stage binary (default: build one)")
    ap.add_argument("--refs-python", help="a python with duckdb, duckdb-ext-postgres, connectorx, pyarrow")
    ap.add_argument("--out", default=str(ROOT / "benches" / "RESULTS.md"))
    ap.add_argument("--chunk", type=int, default=100_000)
    ap.add_argument("--tls", action="store_true",
                    help="server with ssl=on; adds the TLS cases (sslmode=require) beside the plain ones")
    ap.add_argument("--parallel", action="store_true",
                    help="instead of the single-table cases: 8 copies of the table (--rows each), staged"
                         " PostgreSQL → PostgreSQL with PARALLEL_TABLES 1, 2 and 4 (DIRECT and DUMP)")
    ap.add_argument("--mariadb", action="store_true",
                    help="adds the MariaDB lane: a MariaDB server with the 11-column table (--rows), its INTO"
                         " OUTFILE / LOAD DATA INFILE limits, the mariadb client, stage dump, DUMP and DIRECT"
                         " MariaDB → MariaDB and → PostgreSQL (and DuckDB / ConnectorX with --refs-python)")
    ap.add_argument("--only", help="run only the cases whose name contains one of these comma-separated words"
                    " (their references are always kept)")
    a = ap.parse_args()

    stage = a.stage
    if not stage:
        target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
        subprocess.run(["cargo", "build", "--release", "--features", "connectorx"], cwd=ROOT, check=True)
        stage = str(Path(target) / "release" / "stage")

    pg = Pg(tls=a.tls)
    maria = e2e_mariadb.Maria(free_port()) if a.mariadb else None
    work = Path(tempfile.mkdtemp(prefix="stage-bench-"))
    try:
        pg.psql("postgres", "CREATE DATABASE bench")
        t0 = time.monotonic()
        pg.psql("bench", TABLE_SQL.format(rows=a.rows))
        pg.psql("bench", "VACUUM ANALYZE bench_src")
        print(f"created bench_src with {a.rows} rows in {time.monotonic() - t0:.1f}s", flush=True)
        plain = "PGSSLMODE=disable "
        conn = f"-h 127.0.0.1 -p {pg.port} -U postgres -d bench -X -q"
        chunk = f"SRC_CHUNK_SIZE = {a.chunk}"
        configs = {
            "dump": ini(pg, "DUMP", work / "out-dump", chunk + "\nCLEANUP_PARQUET_FILES = true"),
            "dumponly": ini(pg, "DUMP", work / "out-only", chunk),
            "direct": ini(pg, "DIRECT", work / "out-direct", chunk),
            "dumponly2": ini(pg, "DUMP", work / "out-only", chunk + "\nREAD_CONNECTIONS = 2"),
            "direct2": ini(pg, "DIRECT", work / "out-direct", chunk + "\nREAD_CONNECTIONS = 2"),
            "cx1": ini(pg, "CONNECTORX", work / "out-cx1", chunk + "\nPARTITION_NUM = 1\nCLEANUP_PARQUET_FILES = true"),
            "cx2": ini(pg, "CONNECTORX", work / "out-cx2", chunk + "\nPARTITION_COLUMN = id\nPARTITION_NUM = 2\nCLEANUP_PARQUET_FILES = true"),
        }
        for name, text in configs.items():
            (work / f"{name}.ini").write_text(text)
        pg_url = f"postgresql://postgres@127.0.0.1:{pg.port}/bench"
        cases = [
            ("COPY binary → /dev/null", None, plain + f"psql {conn} -c 'COPY bench_src TO STDOUT (FORMAT binary)' > /dev/null", None),
            ("psql → psql binary COPY pipe", None,
             plain + f"psql {conn} -c 'COPY bench_src TO STDOUT (FORMAT binary)' | "
             + plain + f"psql {conn} -c 'COPY pipe_dst FROM STDIN (FORMAT binary)'",
             lambda: pg.psql("bench", "TRUNCATE pipe_dst")),
            ("stage dump (PG → Parquet)", "COPY binary → /dev/null", f"{stage} dump --config {work}/dumponly.ini", None),
            ("stage DUMP (PG → Parquet → PG)", "psql → psql binary COPY pipe", f"{stage} --config {work}/dump.ini", None),
            ("stage DIRECT (PG → PG)", "psql → psql binary COPY pipe", f"{stage} --config {work}/direct.ini", None),
            ("stage dump, READ_CONNECTIONS=2", "COPY binary → /dev/null", f"{stage} dump --config {work}/dumponly2.ini", None),
            ("stage DIRECT, READ_CONNECTIONS=2", "psql → psql binary COPY pipe", f"{stage} --config {work}/direct2.ini", None),
            ("stage CONNECTORX, 1 partition", "psql → psql binary COPY pipe", f"{stage} --config {work}/cx1.ini", None),
            ("stage CONNECTORX, 2 partitions", "psql → psql binary COPY pipe", f"{stage} --config {work}/cx2.ini", None),
        ]
        if a.parallel:
            copies = [f"bench_p{i}" for i in range(1, 9)]
            for t in copies:
                pg.psql("bench", f"CREATE TABLE {t} AS TABLE bench_src; ALTER TABLE {t} ADD PRIMARY KEY (id)")
            pg.psql("bench", "VACUUM ANALYZE")
            cases = []
            for mode in ("DIRECT", "DUMP"):
                for n in (1, 2, 4):
                    name = f"{mode.lower()}P{n}"
                    text = ini(pg, mode, work / f"out-{name}", chunk + f"\nPARALLEL_TABLES = {n}\nCLEANUP_PARQUET_FILES = true")
                    text = text.replace("SRC_TABLES = bench_src", "SRC_TABLES = " + ", ".join(copies))
                    (work / f"{name}.ini").write_text(text)
                    ref = f"stage {mode}, 8 tables, PARALLEL_TABLES=1"
                    cases.append((f"stage {mode}, 8 tables, PARALLEL_TABLES={n}", None if n == 1 else ref,
                                  f"{stage} --config {work}/{name}.ini", None))
        if a.tls:
            for name, mode, extra in (("dumpTLS", "DUMP", chunk), ("directTLS", "DIRECT", chunk)):
                (work / f"{name}.ini").write_text(
                    ini(pg, mode, work / ("out-only" if mode == "DUMP" else "out-direct"), extra, "require"))
            tls = "PGSSLMODE=require "
            cases += [
                ("COPY binary → /dev/null, TLS", "COPY binary → /dev/null",
                 tls + f"psql {conn} -c 'COPY bench_src TO STDOUT (FORMAT binary)' > /dev/null", None),
                ("stage dump, TLS (SSLMODE=require)", "stage dump (PG → Parquet)",
                 f"{stage} dump --config {work}/dumpTLS.ini", None),
                ("stage DIRECT, TLS both sides", "stage DIRECT (PG → PG)",
                 f"{stage} --config {work}/directTLS.ini", None),
            ]
        if maria:
            cases += e2e_mariadb.setup(maria, pg, a.rows, work, stage, chunk)
        if a.refs_python:
            (work / "duck.py").write_text(
                "import duckdb, glob, os, sysconfig\n"
                "ext = glob.glob(os.path.join(sysconfig.get_paths()['purelib'],"
                " 'duckdb_ext/extensions/*/*/postgres_scanner.duckdb_extension'))[0]\n"
                "c = duckdb.connect()\n"
                "c.execute(f\"LOAD '{ext}'\")\n"
                f"c.execute(\"ATTACH 'host=127.0.0.1 port={pg.port} user=postgres dbname=bench' AS pg (TYPE postgres, READ_ONLY)\")\n"
                f"c.execute(\"COPY (SELECT * FROM pg.public.bench_src) TO '{work}/duck.parquet' (FORMAT parquet, COMPRESSION zstd)\")\n"
            )
            (work / "cx.py").write_text(
                "import connectorx as cx, pyarrow.parquet as pq\n"
                f"t = cx.read_sql('{pg_url}', 'SELECT * FROM bench_src', return_type='arrow')\n"
                f"pq.write_table(t, '{work}/cx.parquet', compression='zstd')\n"
            )
            duck = f"{a.refs_python} {work}/duck.py"
            cxpy = f"{a.refs_python} {work}/cx.py"
            cases.append(("DuckDB postgres scanner → zstd Parquet", "COPY binary → /dev/null", duck, None))
            cases.append(("ConnectorX + pyarrow → zstd Parquet", "COPY binary → /dev/null", cxpy, None))
            if maria:
                cases += e2e_mariadb.refs(maria, work, a.refs_python)

        if a.only:
            words = [w.strip() for w in a.only.split(",") if w.strip()]
            keep = {c[0] for c in cases if any(w in c[0] for w in words)}
            keep |= {c[1] for c in cases if c[0] in keep and c[1]}
            if any("CONNECTORX" in k for k in keep):
                keep |= {CX_YARDSTICK, "psql → psql binary COPY pipe"}
            cases = [c for c in cases if c[0] in keep]
        results = {c[0]: [] for c in cases}
        per_round = [{} for _ in range(a.rounds)]
        sizes = {}
        for rnd in range(a.rounds):
            for name, _, cmd, prep in cases:
                if prep:
                    prep()
                shutil.rmtree(work / "out-only", ignore_errors=True)
                servers = pg_cpu(pg) + (maria.cpu_seconds() if maria else 0.0)
                try:
                    wall, rss, cpu = timed(cmd)
                except RuntimeError as e:
                    print(f"  {name}: FAILED {e}", flush=True)
                    continue
                servers = pg_cpu(pg) + (maria.cpu_seconds() if maria else 0.0) - servers
                results[name].append((wall, rss, cpu, servers))
                per_round[rnd][name] = wall
                if name.startswith("stage dump"):
                    sizes[name] = dir_bytes(work / "out-only")
                if name.startswith("DuckDB"):
                    sizes[name] = (work / "duck.parquet").stat().st_size
                if name.startswith("ConnectorX +") and "MariaDB" not in name:
                    sizes[name] = (work / "cx.parquet").stat().st_size
                if e2e_mariadb.sizes(name, work) is not None:
                    sizes[name] = e2e_mariadb.sizes(name, work)
                print(f"  round {rnd + 1}: {name}: {wall:.2f}s, peak RSS {rss / 2**20:.0f} MB,"
                      f" CPU {cpu:.2f}s (servers {servers:.2f}s)", flush=True)

        best = {k: min(v) for k, v in results.items() if v}
        lines = [
            f"# End-to-end results ({a.rows:,} rows{' × 8 tables, PARALLEL_TABLES' if a.parallel else ''}{', TLS against plain' if a.tls else ''}{', MariaDB lane' if a.mariadb else ''}{', only ' + a.only if a.only else ''})",
            "",
            f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `benches/e2e.py --rows {a.rows} --rounds {a.rounds}{' --tls' if a.tls else ''}{' --parallel' if a.parallel else ''}{' --mariadb' if a.mariadb else ''}{' --only ' + repr(a.only) if a.only else ''}`"
            f" on {platform.node()}: {os.cpu_count()} cores, {cpu_model()}, {mem_gb():.0f} GB RAM, PostgreSQL {pg_version(pg)},{' MariaDB ' + maria.version() + ',' if maria else ''}"
            f" stage release build, SRC_CHUNK_SIZE={a.chunk}. Best of {a.rounds} alternating rounds;"
            " the last column is the median over rounds of each round's own ratio, which is steadier"
            " than the ratio of bests when the machine's speed drifts. CPU columns: user + system seconds per"
            " million rows in the best round, of the command (stage itself; for a reference, its client"
            " processes) and of the database servers while it ran.",
            "",
            "| case | wall s | rows/s | peak RSS MB | ratio to reference (best/best) | Parquet MB | median per-round ratio | client CPU s / M rows | server CPU s / M rows |",
            "|---|---:|---:|---:|---|---:|---:|---:|---:|",
        ]
        for name, ref, _, _ in cases:
            if name not in best:
                lines.append(f"| {name} | failed | | | | | | | |")
                continue
            wall, rss, cpu, servers = best[name]
            million = a.rows * (8 if a.parallel else 1) / 1e6
            ratio = f"{wall / best[ref][0]:.2f}× {ref}" if ref and ref in best else "reference"
            size = f"{sizes[name] / 2**20:.1f}" if name in sizes else ""
            rounds = sorted(r[name] / r[ref] for r in per_round if ref and name in r and ref in r)
            median = f"{statistics.median(rounds):.2f}×" if rounds else ""
            lines.append(
                f"| {name} | {wall:.2f} | {a.rows * (8 if a.parallel else 1) / wall:,.0f} | {rss / 2**20:.0f} | {ratio} | {size} | {median} | {cpu / million:.2f} | {servers / million:.2f} |"
            )
        lines += cx_against_dump(cases, best, per_round)
        text = "\n".join(lines) + "\n"
        print(text)
        out = Path(a.out)
        sections = [] if not out.exists() else ["# " + b for b in out.read_text().split("\n# ") if b.strip()]
        sections = [sec.replace("# # ", "# ", 1) for sec in sections]
        kept = [sec for sec in sections if not sec.startswith(lines[0])]
        out.write_text("\n".join([text] + [sec.rstrip("\n") + "\n" for sec in kept]))
    finally:
        pg.stop()
        if maria:
            maria.stop()
        shutil.rmtree(work, ignore_errors=True)


CX_YARDSTICK = "stage DUMP (PG → Parquet → PG)"


def cx_against_dump(cases, best, per_round):
    """Lines comparing each CONNECTORX case with native DUMP (the same PG → Parquet → PG
    path with stage's own reader): the yardstick of issue 18."""
    cx = [c[0] for c in cases if "CONNECTORX" in c[0] and c[0] in best]
    if not cx or CX_YARDSTICK not in best:
        return []
    out = ["", f"CONNECTORX against {CX_YARDSTICK} (best/best; median of per-round ratios):", ""]
    for name in cx:
        rounds = sorted(r[name] / r[CX_YARDSTICK] for r in per_round if name in r and CX_YARDSTICK in r)
        median = f"; median {statistics.median(rounds):.2f}×" if rounds else ""
        out.append(f"- {name}: {best[name][0] / best[CX_YARDSTICK][0]:.2f}×{median}")
    return out


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_gb():
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return int(line.split()[1]) / 2**20
    except OSError:
        pass
    return 0


def pg_version(pg):
    r = subprocess.run(["psql", "-X", "-At", "-h", "127.0.0.1", "-p", str(pg.port), "-U", "postgres", "-d", "bench",
                        "-c", "SHOW server_version"], capture_output=True, text=True)
    return r.stdout.strip()


if __name__ == "__main__":
    main()
