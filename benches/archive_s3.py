#!/usr/bin/env python3
"""The archive on a local S3 server against the local disk (#17).

Creates a SQLite `orders` table of N rows (six columns), then times `stage dump` with
OUTPUT_DIR on the local disk and on moto's S3 server (started here from the test Python
environment that scripts/install-test-deps.sh makes), alternating over rounds, under GNU
time (wall, peak RSS, user + system CPU). Two settings: zstd parts of SRC_CHUNK_SIZE 100 000
rows (plain puts) and uncompressed parts of 500 000 rows (each part a multipart upload).
Appends a section to benches/RESULTS.md (or --out).

    python3 benches/archive_s3.py --stage target/release/stage --rows 1000000 --rounds 2

Needs a release build of stage with `--features cloud`.
"""

import argparse
import datetime
import os
import platform
import shutil
import socket
import sqlite3
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = Path(os.environ.get("STAGE_TEST_PYTHON", Path.home() / ".cache/stage/test-venv/bin/python"))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_source(path, rows):
    c = sqlite3.connect(path)
    c.executescript(
        "CREATE TABLE orders (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL, status TEXT NOT NULL,"
        " amount REAL, created_at TEXT, note TEXT);"
    )
    c.execute(
        "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ?) "
        "INSERT INTO orders SELECT i, i % 9973, CASE i % 4 WHEN 0 THEN 'open' WHEN 1 THEN 'paid'"
        " WHEN 2 THEN 'sent' ELSE 'void' END, (i % 100000) / 100.0,"
        " datetime(1600000000 + i * 37, 'unixepoch'), CASE WHEN i % 3 = 0 THEN NULL"
        " ELSE 'note ' || (i * 7919 % 1000003) END FROM s",
        (rows,),
    )
    c.commit()
    c.close()


def timed(cmd, env):
    out = tempfile.NamedTemporaryFile(delete=False)
    out.close()
    t0 = time.monotonic()
    r = subprocess.run(["/usr/bin/time", "-f", "%e %M %U %S", "-o", out.name] + cmd, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{r.stderr[-2000:]}")
    _, rss, user, system = Path(out.name).read_text().split()[-4:]
    os.unlink(out.name)
    return wall, int(rss) / 1024, float(user) + float(system)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stage", required=True, help="a release stage binary built with --features cloud")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(ROOT / "benches" / "RESULTS.md"))
    a = ap.parse_args()
    stage = str(Path(a.stage).resolve())
    work = Path(tempfile.mkdtemp(prefix="stage-s3-bench-"))
    port = free_port()
    moto = subprocess.Popen([str(PY.with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing-secret",
                   AWS_REGION="us-east-1", AWS_ENDPOINT=endpoint, AWS_ALLOW_HTTP="true")
        subprocess.run([str(PY), "-c", "import boto3,sys; boto3.client('s3', endpoint_url=sys.argv[1],"
                        " aws_access_key_id='testing', aws_secret_access_key='testing-secret',"
                        " region_name='us-east-1').create_bucket(Bucket='bench')", endpoint], check=True)
        src = work / "src.sqlite"
        t0 = time.monotonic()
        make_source(src, a.rows)
        print(f"created {a.rows} rows in {time.monotonic() - t0:.1f}s", flush=True)
        settings = [
            ("zstd, SRC_CHUNK_SIZE 100 000", "PARQUET_COMPRESSION = zstd\nSRC_CHUNK_SIZE = 100000"),
            ("none, SRC_CHUNK_SIZE 500 000", "PARQUET_COMPRESSION = none\nSRC_CHUNK_SIZE = 500000"),
        ]
        results = {}
        for r in range(a.rounds):
            for si, (label, extra) in enumerate(settings):
                for store in ["local disk", "S3 (moto)"]:
                    out = str(work / f"out{si}") if store == "local disk" else f"s3://bench/r{r}s{si}"
                    if store == "local disk":
                        shutil.rmtree(out, ignore_errors=True)
                    ini = work / "a.ini"
                    ini.write_text(
                        f"[database-source]\nSRC_DRIVER = sqlite\nSRC_DB = {src}\n\n"
                        f"[database-destination]\nDST_DRIVER = sqlite\nDST_DB = {work}/stg.sqlite\n\n"
                        f"[settings]\nSRC_TABLES = orders\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {out}\n"
                        f"RUN_LOG = false\n{extra}\n")
                    wall, rss, cpu = timed([stage, "dump", "--config", str(ini)], env)
                    print(f"  round {r + 1}: {store}, {label}: {wall:.2f}s, peak RSS {rss:.0f} MB, CPU {cpu:.2f}s",
                          flush=True)
                    results.setdefault((store, label), []).append((wall, rss, cpu))
        lines = [
            f"## Archive on a local S3 server vs local disk, release build (#17)\n",
            f"Run {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by `benches/archive_s3.py"
            f" --rows {a.rows} --rounds {a.rounds}` on {platform.node()}: {os.cpu_count()} cores. `stage dump`"
            " of a six-column SQLite `orders` table; S3 = moto's server on 127.0.0.1 (a Python server).",
            " Best wall of the rounds (all rounds listed); peak RSS and CPU (user + system) of that round.\n",
            "| archive | parts | wall s (best) | all rounds s | peak RSS MB | stage CPU s |",
            "|---|---|---:|---|---:|---:|",
        ]
        for (store, label), runs in results.items():
            best = min(runs)
            lines.append(f"| {store} | {label} | {best[0]:.2f} | {', '.join(f'{w:.2f}' for w, _, _ in runs)} |"
                         f" {best[1]:.0f} | {best[2]:.2f} |")
        for label, _ in settings:
            d = min(results[("local disk", label)])[0]
            s = min(results[("S3 (moto)", label)])[0]
            med = statistics.median(s_ / d_ for (d_, _, _), (s_, _, _) in
                                    zip(results[("local disk", label)], results[("S3 (moto)", label)]))
            lines.append(f"\n{label}: S3 / disk = {s / d:.2f}× (best/best), {med:.2f}× (median per round).")
        text = "\n".join(lines) + "\n"
        print(text)
        with open(a.out, "a") as f:
            f.write("\n" + text)
    finally:
        moto.terminate()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
