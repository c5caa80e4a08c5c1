//! SQLite source (rusqlite). Column types follow `types::sqlite`; each value is checked
//! against its column's Arrow type as it is read.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Builder, StringBuilder, Time64MicrosecondBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

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
        })
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let sql = format!("SELECT count(*) FROM {}", Self::qualified(&table.table));
        let n: i64 = self
            .conn
            .query_row(&sql, [], |r| r.get(0))
            .map_err(db_err(format!(
                "table {}: counting rows",
                table.table.display()
            )))?;
        Ok(n as u64)
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
            Self::qualified(&table.table)
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
        let schema = table.schema();
        let mut builders: Vec<Col> = table
            .columns
            .iter()
            .map(|c| Col::new(c, opts.chunk_rows))
            .collect();
        let mut total: u64 = 0;
        let mut in_batch = 0usize;
        while let Some(row) = rows
            .next()
            .map_err(db_err(format!("table {name}: reading row {}", total + 1)))?
        {
            total += 1;
            for (i, b) in builders.iter_mut().enumerate() {
                let v = row
                    .get_ref(i)
                    .map_err(db_err(format!("table {name}: reading row {total}")))?;
                b.append(v)
                    .map_err(|m| Error::value(&name, &table.columns[i].name, total, m))?;
            }
            in_batch += 1;
            if in_batch == opts.chunk_rows {
                let arrays = builders.iter_mut().map(Col::finish).collect();
                let batch = RecordBatch::try_new(schema.clone(), arrays)
                    .map_err(|e| Error::archive(format!("table {name}: building a batch"), e))?;
                sink(batch)?;
                in_batch = 0;
            }
        }
        if in_batch > 0 || total == 0 {
            let arrays = builders.iter_mut().map(Col::finish).collect();
            let batch = RecordBatch::try_new(schema.clone(), arrays)
                .map_err(|e| Error::archive(format!("table {name}: building a batch"), e))?;
            if batch.num_rows() > 0 {
                sink(batch)?;
            }
        }
        Ok(total)
    }
}

/// One column's builder, converting SQLite values by the column's Arrow type.
enum Col {
    Bool(BooleanBuilder),
    Int(Int64Builder),
    Float(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    Blob(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64MicrosecondBuilder),
    Timestamp(TimestampMicrosecondBuilder, bool),
}

impl Col {
    fn new(c: &ColumnInfo, cap: usize) -> Col {
        let cap = cap.min(65_536);
        match &c.arrow_type {
            DataType::Boolean => Col::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::Int64 => Col::Int(Int64Builder::with_capacity(cap)),
            DataType::Float64 => Col::Float(Float64Builder::with_capacity(cap)),
            DataType::Decimal128(p, s) => Col::Decimal(
                Decimal128Builder::with_capacity(cap)
                    .with_precision_and_scale(*p, *s)
                    .expect("precision and scale come from the type table"),
                *p,
                *s,
            ),
            DataType::Binary => Col::Blob(BinaryBuilder::with_capacity(cap, cap * 16)),
            DataType::Date32 => Col::Date(Date32Builder::with_capacity(cap)),
            DataType::Time64(TimeUnit::Microsecond) => {
                Col::Time(Time64MicrosecondBuilder::with_capacity(cap))
            }
            DataType::Timestamp(TimeUnit::Microsecond, tz) => Col::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
                tz.is_some(),
            ),
            // Utf8 and every documented text fallback.
            _ => Col::Text(StringBuilder::with_capacity(cap, cap * 16)),
        }
    }

    fn append(&mut self, v: ValueRef<'_>) -> Result<(), String> {
        if let ValueRef::Null = v {
            self.append_null();
            return Ok(());
        }
        match self {
            Col::Bool(b) => match v {
                ValueRef::Integer(0) => b.append_value(false),
                ValueRef::Integer(1) => b.append_value(true),
                other => return Err(mismatch(other, "a boolean (INTEGER 0 or 1)")),
            },
            Col::Int(b) => match v {
                ValueRef::Integer(i) => b.append_value(i),
                other => return Err(mismatch(other, "an INTEGER")),
            },
            Col::Float(b) => match v {
                ValueRef::Real(f) => b.append_value(f),
                ValueRef::Integer(i) if (i as f64) as i64 == i && i.unsigned_abs() <= 1 << 53 => {
                    b.append_value(i as f64)
                }
                other => return Err(mismatch(other, "a REAL")),
            },
            Col::Decimal(b, p, s) => {
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
            Col::Text(b) => match v {
                ValueRef::Text(t) => b.append_value(utf8(t)?),
                ValueRef::Integer(i) => b.append_value(i.to_string()),
                ValueRef::Real(f) => b.append_value(format!("{f:?}")),
                other => return Err(mismatch(other, "TEXT")),
            },
            Col::Blob(b) => match v {
                ValueRef::Blob(x) | ValueRef::Text(x) => b.append_value(x),
                other => return Err(mismatch(other, "a BLOB")),
            },
            Col::Date(b) => match v {
                ValueRef::Text(t) => b.append_value(types::parse_date(utf8(t)?)?),
                other => return Err(mismatch(other, "a date as TEXT YYYY-MM-DD")),
            },
            Col::Time(b) => match v {
                ValueRef::Text(t) => b.append_value(types::parse_time(utf8(t)?)?),
                other => return Err(mismatch(other, "a time as TEXT HH:MM:SS")),
            },
            Col::Timestamp(b, zoned) => match v {
                ValueRef::Text(t) => b.append_value(types::parse_timestamp(utf8(t)?, *zoned)?),
                other => return Err(mismatch(other, "a timestamp as ISO-8601 TEXT")),
            },
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Col::Bool(b) => b.append_null(),
            Col::Int(b) => b.append_null(),
            Col::Float(b) => b.append_null(),
            Col::Decimal(b, ..) => b.append_null(),
            Col::Text(b) => b.append_null(),
            Col::Blob(b) => b.append_null(),
            Col::Date(b) => b.append_null(),
            Col::Time(b) => b.append_null(),
            Col::Timestamp(b, _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Bool(b) => Arc::new(b.finish()),
            Col::Int(b) => Arc::new(b.finish()),
            Col::Float(b) => Arc::new(b.finish()),
            Col::Decimal(b, ..) => Arc::new(b.finish()),
            Col::Text(b) => Arc::new(b.finish()),
            Col::Blob(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
            Col::Timestamp(b, _) => Arc::new(b.finish()),
        }
    }
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
