"""The MariaDB lane of benches/e2e.py (--mariadb): a throwaway MariaDB server, the benchmark
table (11 columns: integers, decimal, double, varchar, text, char, date, datetime(6),
tinyint(1), a column with a third NULLs), and the cases against the server's own limits
(SELECT … INTO OUTFILE, LOAD DATA INFILE) and the mariadb client."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TABLE_SQL = """
CREATE TABLE bench_src (
    id      BIGINT NOT NULL PRIMARY KEY,
    qty     INT NOT NULL,
    amount  DECIMAL(15,2),
    score   DOUBLE,
    name    VARCHAR(40),
    note    TEXT,
    code    CHAR(10),
    day     DATE,
    at      DATETIME(6),
    flag    TINYINT(1),
    sparse  INT
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO bench_src
SELECT seq,
       (seq * 7) % 1000,
       ((seq * 104729) % 100000000) / 100,
       (seq % 9973) / 7.0,
       CONCAT('name ', seq % 50000),
       CASE WHEN seq % 5 = 0 THEN CONCAT('gemeente Ĳsselstein, aanvraag ', seq) ELSE CONCAT('note ', seq % 997) END,
       LPAD(seq % 100000, 10, '0'),
       DATE '1990-01-01' + INTERVAL (seq % 12000) DAY,
       TIMESTAMP '2000-01-01 00:00:00' + INTERVAL (seq % 100000000) SECOND + INTERVAL (seq % 1000) MICROSECOND,
       seq % 3 = 0,
       CASE WHEN seq % 3 = 1 THEN NULL ELSE seq % 1000 END
FROM seq_1_to_{rows};
CREATE TABLE pipe_dst LIKE bench_src;
"""

USER = "bench"
PASSWORD = "bench"


def find(names, dirs):
    for n in names:
        found = shutil.which(n)
        if found:
            return found
        for d in dirs:
            if Path(d, n).exists():
                return str(Path(d, n))
    sys.exit(f"MariaDB binaries ({', '.join(names)}) not found: run scripts/install-test-deps.sh")


class Maria:
    """A throwaway mariadbd on 127.0.0.1 with a user `bench` (password `bench`)."""

    def __init__(self, port):
        self.dir = Path(tempfile.mkdtemp(prefix="stage-bench-maria-"))
        self.port = port
        self.files = self.dir / "files"
        self.files.mkdir()
        self.client = find(["mariadb", "mysql"], ["/usr/bin"])
        server = find(["mariadbd", "mysqld"], ["/usr/sbin", "/usr/libexec"])
        install = find(["mariadb-install-db", "mysql_install_db"], ["/usr/bin"])
        root = ["--user=root"] if os.geteuid() == 0 else []
        subprocess.run([install, "--no-defaults", f"--datadir={self.dir}/data", "--auth-root-authentication-method=normal",
                        "--skip-test-db"] + root, check=True, capture_output=True, cwd=self.dir)
        self.socket = self.dir / "s.sock"
        self.proc = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={self.dir}/data", f"--socket={self.socket}", f"--port={port}",
             "--bind-address=127.0.0.1", f"--log-error={self.dir}/log", f"--pid-file={self.dir}/pid",
             f"--secure-file-priv={self.files}", "--local-infile=1", "--skip-log-bin",
             "--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0", "--innodb-buffer-pool-size=1G",
             "--innodb-log-file-size=512M", "--max-allowed-packet=64M",
             "--character-set-server=utf8mb4", "--default-time-zone=+00:00"] + root,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=self.dir)
        deadline = time.monotonic() + 60
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                sys.exit(f"mariadbd did not start: {(self.dir / 'log').read_text()[-2000:]}")
            time.sleep(0.1)
        subprocess.run([self.client, "--no-defaults", "-S", str(self.socket), "-uroot", "-e",
                        f"CREATE USER '{USER}'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON *.* TO '{USER}'@'%';"
                        " CREATE DATABASE bench; CREATE DATABASE staging"], check=True)

    def cli(self, db="bench"):
        """The client's command line over TCP (as a shell string)."""
        return (f"MYSQL_PWD={PASSWORD} {self.client} --no-defaults --protocol=TCP -h 127.0.0.1 -P {self.port}"
                f" -u {USER} --local-infile=1 {db}")

    def sql(self, sql, db="bench"):
        subprocess.run(self.cli(db) + " -e " + shlex_quote(sql), shell=True, check=True)

    def version(self):
        r = subprocess.run(self.cli() + " -N -B -e 'SELECT VERSION()'", shell=True, capture_output=True, text=True)
        return r.stdout.strip()

    def cpu_seconds(self):
        return proc_cpu(self.proc.pid, children=False)

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


def shlex_quote(s):
    return "'" + s.replace("'", "'\"'\"'") + "'"


def proc_cpu(pid, children=True):
    """User + system CPU seconds of `pid` (with its reaped children's when `children`)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # After the command name: state is field 3; utime 14, stime 15, cutime 16, cstime 17.
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


def maria_section(side, m, db):
    return (f"{side}_DRIVER = mariadb\n{side}_HOST = 127.0.0.1\n{side}_PORT = {m.port}\n"
            f"{side}_USERNAME = {USER}\n{side}_PASSWORD = {PASSWORD}\n{side}_DB = {db}\n")


def pg_section(pg):
    return (f"DST_DRIVER = postgres\nDST_SSLMODE = disable\nDST_HOST = 127.0.0.1\nDST_PORT = {pg.port}\n"
            "DST_USERNAME = postgres\nDST_DB = bench\nDST_SCHEMA = staging_maria\n")


def ini(m, pg, mode, out_dir, extra, to_pg=False):
    dst = pg_section(pg) if to_pg else maria_section("DST", m, "staging")
    return f"""[database-source]
{maria_section("SRC", m, "bench")}
[database-destination]
{dst}
[settings]
SRC_TABLES = bench_src
TRANSFER_MODE = {mode}
OUTPUT_DIR = {out_dir}
LOG_ROW_COUNT = false
{extra}
[logging]
LOG_LEVEL = WARN
"""


OUTFILE = "MariaDB SELECT … INTO OUTFILE"
OUT_AND_LOAD = "MariaDB INTO OUTFILE + LOAD DATA INFILE"
READ_ONLY = "stage dump (MariaDB → Parquet)"


def setup(m, pg, rows, work, stage, chunk):
    """Creates the table; returns the lane's cases (name, reference, command, prep)."""
    t0 = time.monotonic()
    m.sql(TABLE_SQL.format(rows=rows))
    m.sql("ANALYZE TABLE bench_src")
    print(f"created MariaDB bench_src with {rows} rows in {time.monotonic() - t0:.1f}s", flush=True)
    pg.psql("bench", "CREATE SCHEMA IF NOT EXISTS staging_maria")
    seed = m.files / "seed.tsv"
    out = m.files / "out.tsv"
    m.sql(f"SELECT * FROM bench_src INTO OUTFILE '{seed}'")
    configs = {
        "m_dumponly": ini(m, pg, "DUMP", work / "out-only", chunk),
        "m_dump": ini(m, pg, "DUMP", work / "out-m-dump", chunk + "\nCLEANUP_PARQUET_FILES = true"),
        "m_direct": ini(m, pg, "DIRECT", work / "out-m-direct", chunk),
        "m_pg": ini(m, pg, "DIRECT", work / "out-m-pg", chunk, to_pg=True),
    }
    for name, text in configs.items():
        (work / f"{name}.ini").write_text(text)
    cli = m.cli()

    def rm_out():
        out.unlink(missing_ok=True)

    def truncate():
        m.sql("TRUNCATE pipe_dst")

    def rm_out_and_truncate():
        rm_out()
        truncate()
    return [
        (OUTFILE, None, f"{cli} -e \"SELECT * FROM bench_src INTO OUTFILE '{out}'\"", rm_out),
        ("MariaDB LOAD DATA INFILE", None, f"{cli} -e \"LOAD DATA INFILE '{seed}' INTO TABLE pipe_dst\"",
         truncate),
        (OUT_AND_LOAD, None,
         f"{cli} -e \"SELECT * FROM bench_src INTO OUTFILE '{out}'\" && "
         f"{cli} -e \"LOAD DATA INFILE '{out}' INTO TABLE pipe_dst\"",
         rm_out_and_truncate),
        ("mariadb -B -e 'SELECT …' > /dev/null", OUTFILE, f"{cli} -B -e 'SELECT * FROM bench_src' > /dev/null", None),
        (READ_ONLY, OUTFILE, f"{stage} dump --config {work}/m_dumponly.ini", None),
        ("stage DUMP (MariaDB → Parquet → MariaDB)", OUT_AND_LOAD, f"{stage} --config {work}/m_dump.ini", None),
        ("stage DIRECT (MariaDB → MariaDB)", OUT_AND_LOAD, f"{stage} --config {work}/m_direct.ini", None),
        ("stage DIRECT (MariaDB → PostgreSQL)", OUT_AND_LOAD, f"{stage} --config {work}/m_pg.ini", None),
    ]


def refs(m, work, python):
    """DuckDB's mysql scanner and ConnectorX + pyarrow, each writing zstd Parquet."""
    (work / "mduck.py").write_text(
        "import duckdb, glob, os, sysconfig\n"
        "ext = glob.glob(os.path.join(sysconfig.get_paths()['purelib'],"
        " 'duckdb_ext/extensions/*/*/mysql_scanner.duckdb_extension'))[0]\n"
        "c = duckdb.connect()\n"
        "c.execute(f\"LOAD '{ext}'\")\n"
        f"c.execute(\"ATTACH 'host=127.0.0.1 port={m.port} user={USER} password={PASSWORD} database=bench'"
        " AS my (TYPE mysql, READ_ONLY)\")\n"
        f"c.execute(\"COPY (SELECT * FROM my.bench.bench_src) TO '{work}/mduck.parquet' (FORMAT parquet, COMPRESSION zstd)\")\n"
    )
    (work / "mcx.py").write_text(
        "import connectorx as cx, pyarrow.parquet as pq\n"
        f"t = cx.read_sql('mysql://{USER}:{PASSWORD}@127.0.0.1:{m.port}/bench', 'SELECT * FROM bench_src', return_type='arrow')\n"
        f"pq.write_table(t, '{work}/mcx.parquet', compression='zstd')\n"
    )
    return [
        ("DuckDB mysql scanner → zstd Parquet (MariaDB)", OUTFILE, f"{python} {work}/mduck.py", None),
        ("ConnectorX + pyarrow → zstd Parquet (MariaDB)", OUTFILE, f"{python} {work}/mcx.py", None),
    ]


def sizes(name, work):
    """The Parquet bytes a MariaDB reference case wrote, or None."""
    if name.startswith("DuckDB mysql"):
        return (work / "mduck.parquet").stat().st_size
    if name.startswith("ConnectorX + pyarrow → zstd Parquet (MariaDB)"):
        return (work / "mcx.parquet").stat().st_size
    return None
