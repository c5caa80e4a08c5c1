#!/usr/bin/env python3
"""Sharded run benchmark: one process against three shards on the benchmark table.

Starts a throwaway PostgreSQL (benches/e2e.py's), creates the mixed-type benchmark table of N
rows, then times, alternating over rounds, PostgreSQL → Parquet → PostgreSQL:
  - one process: `stage run` in DUMP mode;
  - three shards: `stage plan --shards 3`, three `stage run --shard i/3 --no-load` at once,
    then `stage commit` (SHARD_MIN_ROWS = rows / 3, so the table splits into three key ranges).
Prints wall time and the stage processes' CPU seconds (user + system, from GNU time) and
appends a section to benches/RESULTS.md.

    python3 benches/shards.py --rows 5000000 --rounds 2 --stage /path/to/release/stage
"""

import argparse
import datetime
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from e2e import Pg, TABLE_SQL, ini, cpu_model  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def timed_cpu(cmds):
    """Runs shell commands at once, each under GNU time; returns (wall s, CPU s summed)."""
    outs, procs = [], []
    t0 = time.monotonic()
    for cmd in cmds:
        out = tempfile.NamedTemporaryFile(delete=False)
        out.close()
        outs.append(out.name)
        procs.append(subprocess.Popen(["/usr/bin/time", "-f", "%U %S", "-o", out.name, "sh", "-c", cmd],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for p, cmd in zip(procs, cmds):
        _, err = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"{cmd} failed:\n{err[-2000:]}")
    wall = time.monotonic() - t0
    cpu = 0.0
    for name in outs:
        u, s = Path(name).read_text().split()[-2:]
        cpu += float(u) + float(s)
        os.unlink(name)
    return wall, cpu


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=5_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--stage", required=True, help="path of a release stage binary")
    ap.add_argument("--out", default=str(ROOT / "benches" / "RESULTS.md"))
    a = ap.parse_args()
    pg = Pg()
    work = Path(tempfile.mkdtemp(prefix="stage-shards-"))
    try:
        pg.psql("postgres", "CREATE DATABASE bench")
        pg.psql("bench", TABLE_SQL.format(rows=a.rows))
        pg.psql("bench", "VACUUM ANALYZE bench_src")
        extra = f"SRC_CHUNK_SIZE = 100000\nSHARD_MIN_ROWS = {a.rows // 3}\nCLEANUP_PARQUET_FILES = true"
        (work / "one.ini").write_text(ini(pg, "DUMP", work / "out-one", extra))
        (work / "sharded.ini").write_text(ini(pg, "DUMP", work / "out-sharded", extra))
        stage = a.stage
        results = {"one process (DUMP)": [], "3 shards + commit": []}
        for rnd in range(a.rounds):
            wall, cpu = timed_cpu([f"{stage} --config {work}/one.ini"])
            results["one process (DUMP)"].append((wall, cpu))
            print(f"round {rnd + 1}: one process {wall:.2f}s, CPU {cpu:.2f}s", flush=True)
            shutil.rmtree(work / "out-sharded", ignore_errors=True)
            run_id = f"bench{rnd}"
            cfg = f"--config {work}/sharded.ini --run-id {run_id}"
            w0, c0 = timed_cpu([f"{stage} plan {cfg} --shards 3"])
            w1, c1 = timed_cpu([f"{stage} run {cfg} --shard {i}/3 --no-load" for i in range(3)])
            w2, c2 = timed_cpu([f"{stage} commit {cfg}"])
            results["3 shards + commit"].append((w0 + w1 + w2, c0 + c1 + c2))
            print(f"round {rnd + 1}: plan {w0:.2f}s, shards {w1:.2f}s, commit {w2:.2f}s; CPU {c0 + c1 + c2:.2f}s",
                  flush=True)
        lines = [
            f"# Sharded run ({a.rows:,} rows, 3 shards on one machine)",
            "",
            f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `benches/shards.py --rows {a.rows}"
            f" --rounds {a.rounds}` on {platform.node()}: {os.cpu_count()} cores, {cpu_model()}. PostgreSQL →"
            " Parquet → PostgreSQL; the sharded run is plan + three concurrent shard processes + commit"
            " (load). Best of the rounds.",
            "",
            "| case | wall s | stage CPU s (user+sys) | CPU s per million rows |",
            "|---|---:|---:|---:|",
        ]
        for name, runs in results.items():
            wall, cpu = min(runs)
            lines.append(f"| {name} | {wall:.2f} | {cpu:.2f} | {cpu / (a.rows / 1e6):.2f} |")
        text = "\n".join(lines) + "\n"
        print(text)
        out = Path(a.out)
        old = out.read_text() if out.exists() else ""
        kept = [s for s in old.split("\n# ") if s.strip() and not s.lstrip("# ").startswith(lines[0][2:])]
        out.write_text(text + "\n" + "\n# ".join(kept).rstrip("\n") + "\n" if kept else text)
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
