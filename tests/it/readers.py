"""Reads stage's Parquet parts with two readers that share no code with stage: pyarrow
(Arrow C++) and DuckDB. Writes what pyarrow read to an Arrow IPC file (the Rust test compares
it with the source's values exactly) and compares DuckDB's reading with pyarrow's value by
value. Exits 1 with one line per differing column.

    python readers.py OUT.arrow PART.parquet [PART.parquet ...]
"""

import math
import sys
import uuid

import duckdb
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq


def as_micros(t):
    """Timestamps as integer microseconds since the epoch (no time-zone library needed)."""
    if pa.types.is_timestamp(t):
        return pa.int64()
    if pa.types.is_list(t) and pa.types.is_timestamp(t.value_type):
        return pa.list_(pa.int64())
    return None


def norm(v):
    if isinstance(v, uuid.UUID):
        return v.bytes
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v)
    if isinstance(v, list):
        return [norm(x) for x in v]
    return v


def main():
    out, parts = sys.argv[1], sys.argv[2:]
    table = pa.concat_tables([pq.read_table(p) for p in parts])
    with ipc.new_file(out, table.schema) as w:
        w.write_table(table)

    con = duckdb.connect()
    con.execute("SET threads = 1")
    kinds = dict(
        (row[0], row[1])
        for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [parts]).fetchall()
    )
    select, compared = [], []
    for field in table.schema:
        name, t = field.name, field.type
        quoted = '"' + name.replace('"', '""') + '"'
        if pa.types.is_decimal(t) and t.precision > 38:
            # DuckDB has no decimal wider than 38 digits (it reads these as DOUBLE).
            continue
        if as_micros(t) is not None:
            quoted = (
                f"list_transform({quoted}, x -> epoch_us(x))"
                if kinds[name].endswith("[]")
                else f"epoch_us({quoted})"
            )
        select.append(quoted)
        compared.append(field)
    rows = con.execute(f"SELECT {', '.join(select)} FROM read_parquet(?)", [parts]).fetchall()

    failed = []
    if len(rows) != table.num_rows:
        failed.append(f"DuckDB read {len(rows)} rows, pyarrow {table.num_rows}")
    for i, field in enumerate(compared):
        column = table.column(field.name)
        micros = as_micros(field.type)
        if micros is not None:
            column = column.cast(micros)
        ours = [norm(v) for v in column.to_pylist()]
        theirs = [norm(r[i]) for r in rows]
        if ours != theirs:
            k = next(k for k, (a, b) in enumerate(zip(ours, theirs)) if a != b)
            failed.append(f"column {field.name}, row {k + 1}: pyarrow {ours[k]!r}, DuckDB {theirs[k]!r}")
    for line in failed:
        print(line)
    print(f"compared {len(compared)} of {table.num_columns} columns, {table.num_rows} rows")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
