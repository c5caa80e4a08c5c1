#!/usr/bin/env python3
"""Incremental benchmark (#16): a run that picks up 1 % changed rows against a full DUMP run.

Starts a throwaway PostgreSQL (benches/e2e.py's), creates the same deterministic N-row
bench_src plus an indexed `updated_at`, loads it once incrementally (the first window is the
whole table, merged), then per round: updates 1 % of the rows (new `updated_at`), times an
incremental DIRECT run, an incremental DUMP run (after another 1 %) and a full DUMP run
(replace). After the last round the incremental staging table must equal the source row by
row (EXCEPT both ways). Prints the figures and appends them to benches/RESULTS.md.

    python3 benches/incremental.py --rows 5000000 --rounds 2 [--stage target/release/stage]
"""

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e  # noqa: E402  (the server, the table and the timing helpers)

ROOT = e2e.ROOT


def psql_value(pg, sql):
    r = subprocess.run(["psql", "-X", "-qAt", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(pg.port),
                        "-U", "postgres", "-d", "bench", "-c", sql], capture_output=True, text=True,
                       env={**os.environ, "PGSSLMODE": "disable"})
    if r.returncode != 0:
        sys.exit(f"{sql} failed: {r.stderr}")
    return r.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--percent", type=float, default=1.0)
    ap.add_argument("--stage", help="path of a release stage binary (default: build one)")
    ap.add_argument("--out", default=str(ROOT / "benches" / "RESULTS.md"))
    ap.add_argument("--build", default="stage release build", help="how the binary was built, for the report")
    a = ap.parse_args()
    stage = a.stage
    if not stage:
        target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
        subprocess.run(["cargo", "build", "--release"], cwd=ROOT, check=True)
        stage = str(Path(target) / "release" / "stage")
    pg = e2e.Pg()
    work = Path(tempfile.mkdtemp(prefix="stage-bench-inc-"))
    every = max(1, round(100 / a.percent))
    try:
        pg.psql("postgres", "CREATE DATABASE bench")
        t0 = time.monotonic()
        pg.psql("bench", e2e.TABLE_SQL.format(rows=a.rows))
        pg.psql("bench", "ALTER TABLE bench_src ADD COLUMN updated_at timestamp NOT NULL DEFAULT timestamp '2020-01-01'")
        pg.psql("bench", "CREATE INDEX bench_src_updated_at ON bench_src (updated_at)")
        pg.psql("bench", "VACUUM ANALYZE bench_src")
        print(f"created bench_src with {a.rows} rows in {time.monotonic() - t0:.1f}s", flush=True)
        inc = ("SRC_CHUNK_SIZE = 100000\nCLEANUP_PARQUET_FILES = true\n\n[table:bench_src]\nSTAGING_NAME = bench_inc\n"
               "SYNC_MODE = incremental\nINCREMENTAL_COLUMN = updated_at\nINCREMENTAL_SETTLE_SECONDS = 0\n"
               "WRITE_MODE = merge\n")
        configs = {
            "full": e2e.ini(pg, "DUMP", work / "out-full", "SRC_CHUNK_SIZE = 100000\nCLEANUP_PARQUET_FILES = true"),
            "inc_direct": e2e.ini(pg, "DIRECT", work / "out-inc", inc),
            "inc_dump": e2e.ini(pg, "DUMP", work / "out-inc", inc),
        }
        for name, text in configs.items():
            (work / f"{name}.ini").write_text(text)
        initial, rss0, _ = e2e.timed(f"{stage} --config {work}/inc_direct.ini")
        print(f"initial incremental load (whole table, merged): {initial:.1f}s", flush=True)
        results = {"incremental DIRECT (1 % changed)": [], "incremental DUMP (1 % changed)": [],
                   "full DUMP (replace)": []}
        rss = {k: 0 for k in results}
        shift = 0
        for r in range(a.rounds):
            for name, cfg in (("incremental DIRECT (1 % changed)", "inc_direct"),
                              ("incremental DUMP (1 % changed)", "inc_dump"),
                              ("full DUMP (replace)", "full")):
                if cfg != "full":
                    shift += 1
                    pg.psql("bench", f"UPDATE bench_src SET qty = qty + 1, updated_at = clock_timestamp()::timestamp"
                                     f" - interval '1 second' WHERE id % {every} = {shift % every}")
                    time.sleep(1.1)
                secs, peak, _ = e2e.timed(f"{stage} --config {work}/{cfg}.ini")
                results[name].append(secs)
                rss[name] = max(rss[name], peak)
                print(f"round {r + 1}: {name}: {secs:.1f}s, peak RSS {peak / 2**20:.0f} MB", flush=True)
        # EXCEPT both ways on the columns the updates change (whole rows at 5M spill more
        # temporary files than this machine has), and the row counts.
        cols = "SELECT id, qty, updated_at FROM"
        diff = psql_value(pg, f"SELECT (SELECT count(*) FROM ({cols} bench_src EXCEPT {cols} staging.bench_inc) a)"
                              f" + (SELECT count(*) FROM ({cols} staging.bench_inc EXCEPT {cols} bench_src) b)"
                              " + abs((SELECT count(*) FROM bench_src) - (SELECT count(*) FROM staging.bench_inc))")
        assert diff == "0", f"incremental staging differs from the source in {diff} rows"
        changed = psql_value(pg, f"SELECT count(*) FROM bench_src WHERE id % {every} = 1")
        full_best = min(results["full DUMP (replace)"])
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        lines = [
            "",
            "## Incremental (1 % changed rows) against a full DUMP (#16)",
            "",
            f"Run {when} by `benches/incremental.py --rows {a.rows} --rounds {a.rounds}` on {e2e.platform.node()}:"
            f" {os.cpu_count()} cores, {e2e.cpu_model()}, {a.build}, PostgreSQL → PostgreSQL on one server; {changed} rows"
            f" ({a.percent:g} %) updated before each incremental run, `updated_at` indexed,"
            f" INCREMENTAL_SETTLE_SECONDS = 0. The first incremental run (the whole table through the merge) took"
            f" {initial:.1f} s. After the last run the incremental staging table equals the source (row counts, and"
            f" EXCEPT both ways on id, qty, updated_at: 0 rows).",
            "",
            "| case | best of rounds | peak RSS | vs full DUMP |",
            "|---|---|---|---|",
        ]
        for name, secs in results.items():
            best = min(secs)
            lines.append(f"| {name} | {best:.1f} s | {rss[name] / 2**20:.0f} MB | {best / full_best:.2f}× |")
        text = "\n".join(lines) + "\n"
        print(text)
        with open(a.out, "a") as f:
            f.write(text)
    finally:
        pg.stop()


if __name__ == "__main__":
    main()
