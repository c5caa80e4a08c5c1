//! MySQL / MariaDB source (the `mysql` crate, synchronous). Column types follow
//! `types::mysql`; rows stream through a prepared statement (binary protocol: typed
//! values) in a session with `time_zone = '+00:00'`, one batch under construction at a time.

use arrow::datatypes::DataType;
use mysql::prelude::Queryable;
use mysql::{Conn, Row, Value};

use super::columns::{append_bytes, append_text, BatchBuilder, ColumnBuilder};
use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::{Endpoint, ZeroDates};
use crate::db::mysql::{self as db, connect, db_err, take};
use crate::dialect::Dialect;
use crate::error::{Error, Result};
use crate::types;
use crate::types::mysql::CatalogColumn;

const D: Dialect = Dialect::Mysql;

pub struct MysqlSource {
    conn: Conn,
    /// `SRC_DB`: where unqualified tables live.
    database: Option<String>,
}

impl MysqlSource {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let conn = connect(
            endpoint,
            "source",
            endpoint.database.as_deref(),
            &["SET time_zone = '+00:00'", "SET NAMES utf8mb4"],
        )?;
        Ok(MysqlSource {
            conn,
            database: endpoint.database.clone(),
        })
    }

    /// The database holding `table`: its own qualifier, or `SRC_DB`.
    fn database_of(&self, table: &TableRef) -> Result<String> {
        table
            .schema
            .clone()
            .or_else(|| self.database.clone())
            .ok_or_else(|| {
                Error::config(format!(
                    "table {}: set [database-source] SRC_DB (or SRC_SCHEMA, or write database.table) to say which MySQL database holds it",
                    table.display()
                ))
            })
    }

    fn qualified(&self, table: &TableRef) -> Result<String> {
        Ok(format!(
            "{}.{}",
            D.quote(&self.database_of(table)?),
            D.quote(&table.name)
        ))
    }
}

impl Source for MysqlSource {
    fn server_version(&mut self) -> Result<String> {
        let v = db::server_version(&mut self.conn)?;
        Ok(if v.to_ascii_lowercase().contains("mariadb") {
            v
        } else {
            format!("MySQL {v}")
        })
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        let database = self.database_of(table)?;
        let ctx = format!("table {}: reading the catalog", table.display());
        let rows: Vec<Row> = self
            .conn
            .exec(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, NUMERIC_PRECISION, NUMERIC_SCALE, IS_NULLABLE \
                 FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? \
                 ORDER BY ORDINAL_POSITION",
                (database.as_str(), table.name.as_str()),
            )
            .map_err(db_err(&ctx))?;
        let mut columns = Vec::with_capacity(rows.len());
        for mut row in rows {
            let name: String = take(&mut row, 0, "COLUMN_NAME")?;
            let c = CatalogColumn {
                data_type: take(&mut row, 1, "DATA_TYPE")?,
                column_type: take(&mut row, 2, "COLUMN_TYPE")?,
                numeric_precision: take(&mut row, 3, "NUMERIC_PRECISION")?,
                numeric_scale: take(&mut row, 4, "NUMERIC_SCALE")?,
            };
            let nullable: String = take(&mut row, 5, "IS_NULLABLE")?;
            let (arrow_type, note) = types::mysql::arrow_type(&c)
                .map_err(|m| Error::column(&table.display(), &name, m))?;
            // MySQL lets a NOT NULL date hold a zero date, which MYSQL_ZERO_DATES = null
            // reads as NULL: date columns are staged nullable.
            let date_like = matches!(arrow_type, DataType::Date32 | DataType::Timestamp(..));
            tracing::debug!(table = %table.display(), column = %name, declared = %c.column_type, arrow = %arrow_type, "column mapping");
            columns.push(ColumnInfo {
                name,
                source_type: c.column_type,
                arrow_type,
                nullable: nullable.eq_ignore_ascii_case("YES") || date_like,
                note,
            });
        }
        if columns.is_empty() {
            return Err(Error::TableNotFound {
                table: table.display(),
                hint: format!(" (looked in database {database})"),
            });
        }
        Ok(TableInfo {
            table: table.clone(),
            columns,
            filter: None,
        })
    }

    fn snapshot(&mut self, begin: bool) -> Result<()> {
        let sql = if begin {
            // Commits whatever a failed attempt left open.
            "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY"
        } else {
            "COMMIT"
        };
        self.conn
            .query_drop(sql)
            .map_err(db_err("reading the source in one snapshot"))
    }

    fn select_text(
        &mut self,
        table: &TableInfo,
        exprs: &[String],
        cond: Option<&str>,
    ) -> Result<Vec<Option<String>>> {
        let from = table.from_clause(self.qualified(&table.table)?);
        let sql = super::select_sql(exprs, &from, cond);
        let ctx = format!(
            "table {}: reading the incremental window",
            table.table.display()
        );
        let mut row: Row = self
            .conn
            .query_first(sql)
            .map_err(db_err(&ctx))?
            .ok_or_else(|| Error::Check(format!("{ctx}: no row")))?;
        (0..exprs.len())
            .map(|i| take::<Option<String>>(&mut row, i, "bound"))
            .collect()
    }

    fn primary_key(&mut self, table: &TableInfo) -> Result<Vec<String>> {
        let database = self.database_of(&table.table)?;
        self.conn
            .exec(
                "SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE \
                 WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' \
                 ORDER BY ORDINAL_POSITION",
                (database.as_str(), table.table.name.as_str()),
            )
            .map_err(db_err(format!(
                "table {}: reading the primary key",
                table.table.display()
            )))
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let sql = format!(
            "SELECT count(*) FROM {}",
            table.from_clause(self.qualified(&table.table)?)
        );
        let ctx = format!("table {}: counting rows", table.table.display());
        let mut row: Row = self
            .conn
            .query_first(sql)
            .map_err(db_err(&ctx))?
            .ok_or_else(|| Error::Check(format!("{ctx}: no row")))?;
        take(&mut row, 0, "count")
    }

    fn key_bounds(&mut self, table: &TableInfo, column: &str) -> Result<Option<(i64, i64)>> {
        let c = D.quote(column);
        let sql = format!(
            "SELECT CAST(MIN({c}) AS SIGNED), CAST(MAX({c}) AS SIGNED) FROM {}",
            table.from_clause(self.qualified(&table.table)?)
        );
        let ctx = format!(
            "table {}: the bounds of key {column}",
            table.table.display()
        );
        let row: Option<(Option<i64>, Option<i64>)> =
            self.conn.query_first(sql).map_err(db_err(&ctx))?;
        Ok(row.and_then(|(lo, hi)| lo.zip(hi)))
    }

    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let cols: Vec<String> = table.columns.iter().map(|c| D.quote(&c.name)).collect();
        let mut sql = format!(
            "SELECT {} FROM {}",
            cols.join(", "),
            table.from_clause(self.qualified(&table.table)?)
        );
        if let Some(limit) = opts.row_limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let name = table.table.display();
        let mut batch =
            BatchBuilder::new(table, opts.chunk_rows, "MySQL")?.with_max_bytes(opts.chunk_bytes);
        let result = self
            .conn
            .exec_iter(&sql, ())
            .map_err(db_err(format!("table {name}: reading")))?;
        for row in result {
            let row = row.map_err(|e| {
                db_err(format!("table {name}: reading row {}", batch.rows() + 1))(e)
            })?;
            batch.push_row(|n, columns| {
                for (i, b) in columns.iter_mut().enumerate() {
                    let v = row.as_ref(i).unwrap_or(&Value::NULL);
                    append(b, v, opts.zero_dates)
                        .map_err(|m| Error::value(&name, &table.columns[i].name, n, m))?;
                }
                Ok(())
            })?;
            batch.send_if_full(sink)?;
        }
        batch.finish(sink)
    }
}

/// Appends one binary-protocol value to a column's builder, converted by the column's
/// Arrow type; `zero` says what a zero date becomes.
fn append(b: &mut ColumnBuilder, v: &Value, zero: ZeroDates) -> Result<(), String> {
    if let Value::NULL = v {
        b.append_null();
        return Ok(());
    }
    match b {
        ColumnBuilder::Boolean(b) => match integer(v)? {
            0 => b.append_value(false),
            1 => b.append_value(true),
            n => {
                return Err(format!(
                    "{n} in a tinyint(1) column, read as boolean, which takes only 0 and 1; stage it through a view with CAST(column AS SIGNED) to keep the number"
                ))
            }
        },
        ColumnBuilder::Int8(b) => b.append_value(fit(v)?),
        ColumnBuilder::Int16(b) => b.append_value(fit(v)?),
        ColumnBuilder::Int32(b) => b.append_value(fit(v)?),
        ColumnBuilder::Int64(b) => b.append_value(fit(v)?),
        ColumnBuilder::UInt8(b) => b.append_value(fit(v)?),
        ColumnBuilder::UInt16(b) => b.append_value(fit(v)?),
        ColumnBuilder::UInt32(b) => b.append_value(fit(v)?),
        ColumnBuilder::UInt64(b) => match v {
            // bit(n): big-endian bytes.
            Value::Bytes(bits) if bits.len() <= 8 => {
                b.append_value(bits.iter().fold(0u64, |acc, x| acc << 8 | u64::from(*x)))
            }
            _ => b.append_value(fit(v)?),
        },
        ColumnBuilder::Float32(b) => match v {
            Value::Float(f) => b.append_value(*f),
            Value::Double(d) if f64::from(*d as f32) == *d => b.append_value(*d as f32),
            other => return Err(mismatch(other, "a FLOAT")),
        },
        ColumnBuilder::Float64(b) => match v {
            Value::Double(d) => b.append_value(*d),
            Value::Float(f) => b.append_value(f64::from(*f)),
            other => return Err(mismatch(other, "a DOUBLE")),
        },
        ColumnBuilder::Decimal128(b, p, s) => {
            b.append_value(types::parse_decimal(&text(v)?, *p, *s)?)
        }
        ColumnBuilder::Decimal256(b, p, s) => {
            b.append_value(types::parse_decimal256(&text(v)?, *p, *s)?)
        }
        ColumnBuilder::Utf8(b) => match v {
            Value::Bytes(x) => append_text(
                b,
                std::str::from_utf8(x).map_err(|e| format!("text is not valid UTF-8 ({e})"))?,
            )?,
            Value::Int(i) => b.append_value(i.to_string()),
            Value::UInt(u) => b.append_value(u.to_string()),
            Value::Float(f) => b.append_value(format!("{f:?}")),
            Value::Double(d) => b.append_value(format!("{d:?}")),
            other => return Err(mismatch(other, "text")),
        },
        ColumnBuilder::Binary(b) => match v {
            Value::Bytes(x) => append_bytes(b, x)?,
            other => return Err(mismatch(other, "bytes")),
        },
        ColumnBuilder::Date32(b) => match v {
            Value::Date(y, m, d, ..) => match calendar_date(*y, *m, *d, zero)? {
                Some(date) => b.append_value(types::date_to_days(date)),
                None => b.append_null(),
            },
            other => return Err(mismatch(other, "a DATE")),
        },
        ColumnBuilder::TimestampMicrosecond(b, _) => match v {
            Value::Date(y, mo, d, h, mi, s, us) => {
                match calendar_date(*y, *mo, *d, zero)? {
                    Some(date) => {
                        let t = date
                            .and_hms_micro_opt(
                                u32::from(*h),
                                u32::from(*mi),
                                u32::from(*s),
                                *us,
                            )
                            .ok_or_else(|| format!("{} is not a valid time", show(v)))?;
                        b.append_value(t.and_utc().timestamp_micros())
                    }
                    None => b.append_null(),
                }
            }
            other => return Err(mismatch(other, "a DATETIME/TIMESTAMP")),
        },
        ColumnBuilder::DurationMicrosecond(b) => match v {
            Value::Time(neg, days, h, m, s, us) => {
                let secs = (i64::from(*days) * 24 + i64::from(*h)) * 3600
                    + i64::from(*m) * 60
                    + i64::from(*s);
                let micros = secs * 1_000_000 + i64::from(*us);
                b.append_value(if *neg { -micros } else { micros })
            }
            other => return Err(mismatch(other, "a TIME")),
        },
        // The type table maps no MySQL column to another Arrow type.
        other => {
            return Err(format!(
                "the MySQL reader has no conversion into Arrow {}",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// A calendar date, `None` for a zero date read as NULL.
fn calendar_date(
    y: u16,
    m: u8,
    d: u8,
    zero: ZeroDates,
) -> Result<Option<chrono::NaiveDate>, String> {
    if m == 0 || d == 0 {
        return match zero {
            ZeroDates::Null => Ok(None),
            ZeroDates::Error => Err(format!(
                "zero date {y:04}-{m:02}-{d:02} has no calendar value; set [settings] MYSQL_ZERO_DATES = null to read zero dates as NULL"
            )),
        };
    }
    chrono::NaiveDate::from_ymd_opt(i32::from(y), u32::from(m), u32::from(d))
        .map(Some)
        .ok_or_else(|| format!("{y:04}-{m:02}-{d:02} is not a calendar date"))
}

fn integer(v: &Value) -> Result<i128, String> {
    match v {
        Value::Int(i) => Ok(i128::from(*i)),
        Value::UInt(u) => Ok(i128::from(*u)),
        Value::Bytes(t) => std::str::from_utf8(t)
            .ok()
            .and_then(|s| s.trim().parse::<i128>().ok())
            .ok_or_else(|| mismatch(v, "an integer")),
        other => Err(mismatch(other, "an integer")),
    }
}

fn fit<T: TryFrom<i128>>(v: &Value) -> Result<T, String> {
    let n = integer(v)?;
    T::try_from(n).map_err(|_| format!("{n} does not fit {}", std::any::type_name::<T>()))
}

fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::Bytes(t) => std::str::from_utf8(t)
            .map(str::to_string)
            .map_err(|_| mismatch(v, "a decimal number")),
        Value::Int(i) => Ok(i.to_string()),
        Value::UInt(u) => Ok(u.to_string()),
        other => Err(mismatch(other, "a decimal number")),
    }
}

fn show(v: &Value) -> String {
    match v {
        Value::Bytes(b) if b.len() > 40 => format!("{} bytes", b.len()),
        other => other.as_sql(false),
    }
}

fn mismatch(v: &Value, expected: &str) -> String {
    format!(
        "the server sent {} which does not fit the column; expected {expected}",
        show(v)
    )
}
