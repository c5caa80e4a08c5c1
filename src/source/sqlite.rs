//! SQLite source (rusqlite). Column types follow `types::sqlite`; each value is checked
//! against its column's Arrow type as it is read.

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::columns::{append_bytes, append_text, BatchBuilder, ColumnBuilder};
use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::Endpoint;
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types;

pub struct SqliteSource {
    conn: Connection,
    path: String,
}

impl SqliteSource {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let path = endpoint.database.clone().unwrap_or_default();
        let connect_err = |message: String| Error::Connect {
            side: "source",
            target: endpoint.describe(),
            message,
        };
        if !std::path::Path::new(&path).is_file() {
            return Err(connect_err(format!(
                "no SQLite database file at \"{path}\" (set {})",
                endpoint.key("DB")
            )));
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| connect_err(e.to_string()))?;
        Ok(SqliteSource { conn, path })
    }

    fn qualified(table: &TableRef) -> String {
        let d = Dialect::Sqlite;
        match &table.schema {
            Some(s) => format!("{}.{}", d.quote(s), d.quote(&table.name)),
            None => d.quote(&table.name),
        }
    }
}

fn db_err(context: String) -> impl FnOnce(rusqlite::Error) -> Error {
    move |e| Error::database(context, false, e)
}

impl Source for SqliteSource {
    fn server_version(&mut self) -> Result<String> {
        Ok(format!("SQLite {} ({})", rusqlite::version(), self.path))
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        let schema = table.schema.as_deref().unwrap_or("main");
        let sql = format!(
            "PRAGMA {}.table_xinfo({})",
            Dialect::Sqlite.quote(schema),
            Dialect::Sqlite.quote_literal(&table.name)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(db_err(format!(
            "table {}: reading the catalog",
            table.display()
        )))?;
        let mut columns = Vec::new();
        let mut rows = stmt.query([]).map_err(db_err(format!(
            "table {}: reading the catalog",
            table.display()
        )))?;
        while let Some(row) = rows.next().map_err(db_err(format!(
            "table {}: reading the catalog",
            table.display()
        )))? {
            let name: String = row.get(1).map_err(db_err("catalog".into()))?;
            let declared: Option<String> = row.get(2).map_err(db_err("catalog".into()))?;
            let not_null: bool = row.get(3).map_err(db_err("catalog".into()))?;
            let hidden: i64 = row.get(6).map_err(db_err("catalog".into()))?;
            if hidden == 1 {
                continue; // hidden columns of virtual tables
            }
            let declared = declared.unwrap_or_default();
            let (arrow_type, note) = types::sqlite::arrow_type(&declared);
            tracing::debug!(table = %table.display(), column = %name, declared = %declared, arrow = %arrow_type, "column mapping");
            columns.push(ColumnInfo {
                name,
                source_type: declared,
                arrow_type,
                nullable: !not_null,
                note,
            });
        }
        if columns.is_empty() {
            let hint = if table.schema.is_none() {
                String::new()
            } else {
                format!(" (looked in schema {schema})")
            };
            return Err(Error::TableNotFound {
                table: table.display(),
                hint,
            });
        }
        Ok(TableInfo {
            table: table.clone(),
            columns,
            filter: None,
        })
    }

    fn snapshot(&mut self, begin: bool) -> Result<()> {
        let ctx = "reading the source in one snapshot";
        if !self.conn.is_autocommit() {
            // A transaction left open by a failed attempt ends first.
            let end = if begin { "ROLLBACK" } else { "COMMIT" };
            self.conn
                .execute_batch(end)
                .map_err(db_err(ctx.to_string()))?;
        }
        if begin {
            // Deferred: the first SELECT starts the read transaction, and with it the
            // snapshot every later statement of the transaction sees.
            self.conn
                .execute_batch("BEGIN")
                .map_err(db_err(ctx.to_string()))?;
        }
        Ok(())
    }

    fn select_text(
        &mut self,
        table: &TableInfo,
        exprs: &[String],
        cond: Option<&str>,
    ) -> Result<Vec<Option<String>>> {
        let from = table.from_clause(Self::qualified(&table.table));
        let sql = super::select_sql(exprs, &from, cond);
        self.conn
            .query_row(&sql, [], |r| {
                (0..exprs.len())
                    .map(|i| r.get::<_, Option<String>>(i))
                    .collect::<std::result::Result<Vec<_>, _>>()
            })
            .map_err(db_err(format!(
                "table {}: reading the incremental window",
                table.table.display()
            )))
    }

    fn primary_key(&mut self, table: &TableInfo) -> Result<Vec<String>> {
        let schema = table.table.schema.as_deref().unwrap_or("main");
        let sql = format!(
            "SELECT name FROM pragma_table_info({}, {}) WHERE pk > 0 ORDER BY pk",
            Dialect::Sqlite.quote_literal(&table.table.name),
            Dialect::Sqlite.quote_literal(schema)
        );
        let mut stmt = self.conn.prepare(&sql).map_err(db_err(format!(
            "table {}: reading the primary key",
            table.table.display()
        )))?;
        let names = stmt
            .query_map([], |r| r.get::<_, String>(0))
            .and_then(|rows| rows.collect::<std::result::Result<Vec<_>, _>>())
            .map_err(db_err(format!(
                "table {}: reading the primary key",
                table.table.display()
            )))?;
        Ok(names)
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM {}",
            table.from_clause(Self::qualified(&table.table))
        );
        let n: i64 = self
            .conn
            .query_row(&sql, [], |r| r.get(0))
            .map_err(db_err(format!(
                "table {}: counting rows",
                table.table.display()
            )))?;
        Ok(n as u64)
    }

    fn key_bounds(&mut self, table: &TableInfo, column: &str) -> Result<Option<(i64, i64)>> {
        let c = Dialect::Sqlite.quote(column);
        let sql = format!(
            "SELECT min({c}), max({c}) FROM {}",
            table.from_clause(Self::qualified(&table.table))
        );
        let bounds: (Option<i64>, Option<i64>) = self
            .conn
            .query_row(&sql, [], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db_err(format!(
                "table {}: the bounds of key {column}",
                table.table.display()
            )))?;
        Ok(bounds.0.zip(bounds.1))
    }

    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let d = Dialect::Sqlite;
        let cols: Vec<String> = table.columns.iter().map(|c| d.quote(&c.name)).collect();
        let mut sql = format!(
            "SELECT {} FROM {}",
            cols.join(", "),
            table.from_clause(Self::qualified(&table.table))
        );
        if let Some(limit) = opts.row_limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let name = table.table.display();
        let mut stmt = self
            .conn
            .prepare(&sql)
            .map_err(db_err(format!("table {name}: preparing the read")))?;
        let mut rows = stmt
            .query([])
            .map_err(db_err(format!("table {name}: reading")))?;
        let mut batch =
            BatchBuilder::new(table, opts.chunk_rows, "SQLite")?.with_max_bytes(opts.chunk_bytes);
        while let Some(row) = rows
            .next()
            .map_err(|e| db_err(format!("table {name}: reading row {}", batch.rows() + 1))(e))?
        {
            batch.push_row(|n, columns| {
                for (i, b) in columns.iter_mut().enumerate() {
                    let v = row
                        .get_ref(i)
                        .map_err(|e| db_err(format!("table {name}: reading row {n}"))(e))?;
                    append(b, v).map_err(|m| Error::value(&name, &table.columns[i].name, n, m))?;
                }
                Ok(())
            })?;
            batch.send_if_full(sink)?;
        }
        batch.finish(sink)
    }
}

/// Appends one SQLite value to a column's builder, checked against the column's type.
fn append(b: &mut ColumnBuilder, v: ValueRef<'_>) -> Result<(), String> {
    if let ValueRef::Null = v {
        b.append_null();
        return Ok(());
    }
    match b {
        ColumnBuilder::Boolean(b) => match v {
            ValueRef::Integer(0) => b.append_value(false),
            ValueRef::Integer(1) => b.append_value(true),
            other => return Err(mismatch(other, "a boolean (INTEGER 0 or 1)")),
        },
        ColumnBuilder::Int64(b) => match v {
            ValueRef::Integer(i) => b.append_value(i),
            other => return Err(mismatch(other, "an INTEGER")),
        },
        ColumnBuilder::Float64(b) => match v {
            ValueRef::Real(f) => b.append_value(f),
            ValueRef::Integer(i) if (i as f64) as i64 == i && i.unsigned_abs() <= 1 << 53 => {
                b.append_value(i as f64)
            }
            other => return Err(mismatch(other, "a REAL")),
        },
        ColumnBuilder::Decimal128(b, p, s) => {
            let parsed = match v {
                ValueRef::Integer(i) => types::parse_decimal(&i.to_string(), *p, *s),
                // Rust prints the shortest text that reads back as the same double.
                ValueRef::Real(f) if f.is_finite() => {
                    types::parse_decimal(&format!("{f:?}"), *p, *s)
                }
                ValueRef::Text(t) => types::parse_decimal(utf8(t)?, *p, *s),
                other => return Err(mismatch(other, "a decimal number")),
            };
            b.append_value(parsed?);
        }
        // Utf8 and every documented text fallback.
        ColumnBuilder::Utf8(b) => match v {
            ValueRef::Text(t) => append_text(b, utf8(t)?)?,
            ValueRef::Integer(i) => b.append_value(i.to_string()),
            ValueRef::Real(f) => b.append_value(format!("{f:?}")),
            other => return Err(mismatch(other, "TEXT")),
        },
        ColumnBuilder::Binary(b) => match v {
            ValueRef::Blob(x) | ValueRef::Text(x) => append_bytes(b, x)?,
            other => return Err(mismatch(other, "a BLOB")),
        },
        ColumnBuilder::Date32(b) => match v {
            ValueRef::Text(t) => b.append_value(types::parse_date(utf8(t)?)?),
            other => return Err(mismatch(other, "a date as TEXT YYYY-MM-DD")),
        },
        ColumnBuilder::Time64Microsecond(b) => match v {
            ValueRef::Text(t) => b.append_value(types::parse_time(utf8(t)?)?),
            other => return Err(mismatch(other, "a time as TEXT HH:MM:SS")),
        },
        ColumnBuilder::TimestampMicrosecond(b, zoned) => match v {
            ValueRef::Text(t) => b.append_value(types::parse_timestamp(utf8(t)?, *zoned)?),
            other => return Err(mismatch(other, "a timestamp as ISO-8601 TEXT")),
        },
        // The type table maps no SQLite column to another Arrow type.
        other => {
            return Err(format!(
                "the SQLite reader has no conversion into Arrow {}",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn utf8(bytes: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(bytes).map_err(|e| format!("TEXT is not valid UTF-8 ({e})"))
}

fn mismatch(v: ValueRef<'_>, expected: &str) -> String {
    let (class, shown) = match v {
        ValueRef::Null => ("NULL", String::new()),
        ValueRef::Integer(i) => ("INTEGER", format!(" {i}")),
        ValueRef::Real(f) => ("REAL", format!(" {f:?}")),
        ValueRef::Text(t) => {
            let s = String::from_utf8_lossy(t);
            let short: String = s.chars().take(40).collect();
            ("TEXT", format!(" \"{short}\""))
        }
        ValueRef::Blob(b) => ("BLOB", format!(" of {} bytes", b.len())),
    };
    format!("the stored {class}{shown} does not fit the declared type; expected {expected}")
}
