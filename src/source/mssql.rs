//! SQL Server source (tiberius over TDS 7.3+, TLS by rustls). Column types follow
//! `types::mssql`; rows are streamed one at a time from the server into per-column Arrow
//! builders, and a batch is handed on every `chunk_rows` rows.
//!
//! The connection (`db::mssql`) owns a small current-thread tokio runtime and blocks on
//! it, so the rest of `stage` stays synchronous. The sink is never called from inside the
//! runtime.
//!
//! `[settings] STATEMENT_TIMEOUT_SECONDS` bounds each statement from its start to its last
//! row (SQL Server has no session setting for it): past it the statement is abandoned.
//! A failed statement may leave the connection mid-response, so the connection is then
//! closed and the next statement opens a new one.

use arrow::datatypes::TimeUnit;
use futures::TryStreamExt;
use tiberius::{ColumnData, Query};

use super::columns::{append_bytes, append_text, BatchBuilder, ColumnBuilder};
use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::{Endpoint, Secret};
use crate::db::mssql::{self as db, before, cell, db_err, Client, ConnectSpec, Deadline};
use crate::error::{Error, Result};
use crate::types::mssql::{self as ty, CatalogColumn};

pub struct MssqlSource {
    rt: tokio::runtime::Runtime,
    /// `None` after a failed statement: reopened on the next one.
    client: Option<Client>,
    spec: ConnectSpec,
    password: Option<Secret>,
    target: String,
    default_schema: String,
}

impl MssqlSource {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let (rt, spec, client) = db::open(endpoint, "source", None)?;
        Ok(MssqlSource {
            rt,
            client: Some(client),
            spec,
            password: endpoint.password.clone(),
            target: endpoint.describe(),
            default_schema: ty::DEFAULT_SCHEMA.to_string(),
        })
    }

    /// The runtime and the client, reopening the connection after a failed statement.
    fn parts(&mut self) -> Result<(&tokio::runtime::Runtime, &mut Client)> {
        if self.client.is_none() {
            tracing::info!(target = %self.target, "reopening the source connection after a failed statement");
            let client = self
                .rt
                .block_on(self.spec.connect(self.password.as_ref()))
                .map_err(|e| Error::Connect {
                    side: "source",
                    target: self.target.clone(),
                    message: e.message,
                })?;
            self.client = Some(client);
        }
        let client = self
            .client
            .as_mut()
            .ok_or_else(|| Error::Check("no source connection".into()))?;
        Ok((&self.rt, client))
    }

    /// `out`, forgetting the connection when it failed.
    fn settle<T>(&mut self, out: Result<T>) -> Result<T> {
        if out.is_err() {
            self.client = None;
        }
        out
    }

    fn schema_of<'t>(&'t self, table: &'t TableRef) -> &'t str {
        table.schema.as_deref().unwrap_or(&self.default_schema)
    }
}

impl Source for MssqlSource {
    fn server_version(&mut self) -> Result<String> {
        let (rt, client) = self.parts()?;
        let out = rt
            .block_on(db::server_version(client))
            .map_err(db_err("reading the server version"));
        self.settle(out)
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        let schema = self.schema_of(table).to_string();
        let ctx = format!("table {}: reading the catalog", table.display());
        let deadline = Deadline::after(self.spec.statement_timeout);
        let (rt, client) = self.parts()?;
        let out = rt.block_on(before(deadline, &ctx, async {
            let mut q = Query::new(ty::CATALOG_SQL);
            q.bind(schema.as_str());
            q.bind(table.name.as_str());
            let rows = async { q.query(client).await?.into_first_result().await };
            rows.await.map_err(db_err(&ctx))
        }));
        let rows = self.settle(out)?;
        let mut columns = Vec::new();
        for row in &rows {
            let bad = || Error::Check(format!("{ctx}: unexpected catalog row"));
            let name: &str = cell(row, 0).ok_or_else(bad)?;
            let c = CatalogColumn {
                data_type: cell::<&str>(row, 1).ok_or_else(bad)?.to_string(),
                char_max_len: cell::<i32>(row, 2),
                precision: cell::<i32>(row, 3).and_then(|p| u8::try_from(p).ok()),
                scale: cell::<i32>(row, 4),
                datetime_precision: cell::<i32>(row, 5).and_then(|p| i16::try_from(p).ok()),
            };
            let nullable = cell::<&str>(row, 6).is_some_and(|n| n == "YES");
            let m = ty::arrow_type(&c).map_err(|msg| Error::column(&table.display(), name, msg))?;
            columns.push(ColumnInfo {
                name: name.to_string(),
                source_type: c.declared(),
                arrow_type: m.arrow,
                nullable,
                note: m.note,
            });
        }
        if columns.is_empty() {
            return Err(Error::TableNotFound {
                table: table.display(),
                hint: format!(
                    " (looked for {schema}.{} in INFORMATION_SCHEMA.COLUMNS; names compare by the database's collation)",
                    table.name
                ),
            });
        }
        Ok(TableInfo {
            table: table.clone(),
            columns,
            filter: None,
        })
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let schema = self.schema_of(&table.table).to_string();
        let sql = format!(
            "SELECT COUNT_BIG(*) FROM {}",
            table.from_clause(
                crate::dialect::Dialect::Mssql.qualify(Some(&schema), &table.table.name)
            )
        );
        let ctx = format!("table {}: counting rows", table.table.display());
        let deadline = Deadline::after(self.spec.statement_timeout);
        let (rt, client) = self.parts()?;
        let out = rt.block_on(before(deadline, &ctx, async {
            let row = async { client.simple_query(sql).await?.into_row().await };
            row.await.map_err(db_err(&ctx))
        }));
        let row = self.settle(out)?;
        let n: Option<i64> = row.as_ref().and_then(|r| cell(r, 0));
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let out = self.read_rows(table, opts, sink);
        self.settle(out)
    }
}

impl MssqlSource {
    fn read_rows(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = table.table.display();
        let schema_name = self.schema_of(&table.table).to_string();
        let exprs = table
            .columns
            .iter()
            .map(|c| read_expr(c, &name))
            .collect::<Result<Vec<_>>>()?;
        let sql = ty::select_sql(
            &schema_name,
            &table.table.name,
            &exprs,
            opts.row_limit,
            table.filter.as_deref(),
        );
        let mut batch = BatchBuilder::new(table, opts.chunk_rows, "SQL Server")?
            .with_max_bytes(opts.chunk_bytes);
        // One deadline from the start of the statement to its last row, time in the sink
        // included (as a server-side statement timeout counts it).
        let deadline = Deadline::after(self.spec.statement_timeout);
        let ctx = format!("table {name}: reading");
        let (rt, client) = self.parts()?;
        let mut stream = rt
            .block_on(before(deadline, &ctx, async {
                let started = client.simple_query(sql).await;
                started.map_err(db_err(format!("table {name}: starting the read")))
            }))?
            .into_row_stream();
        loop {
            // Fill one batch inside the runtime; hand it on outside of it.
            let done = rt.block_on(before(deadline, &ctx, async {
                while !batch.is_full() {
                    let row = stream.try_next().await.map_err(|e| {
                        db_err(format!("table {name}: reading row {}", batch.rows() + 1))(e)
                    })?;
                    let Some(row) = row else {
                        return Ok::<_, Error>(true);
                    };
                    batch.push_row(|n, columns| {
                        for (i, v) in row.into_iter().enumerate() {
                            let (Some(b), Some(c)) = (columns.get_mut(i), table.columns.get(i))
                            else {
                                return Err(Error::Check(format!(
                                    "table {name}: the server returned more columns than the catalog lists"
                                )));
                            };
                            append(b, v).map_err(|m| Error::value(&name, &c.name, n, m))?;
                        }
                        Ok(())
                    })?;
                }
                Ok(false)
            }))?;
            batch.send(sink)?;
            if done {
                break;
            }
        }
        Ok(batch.rows())
    }
}

/// The select-list expression for a described column (re-derived from its source type).
fn read_expr(c: &ColumnInfo, table: &str) -> Result<String> {
    let base = c
        .source_type
        .split('(')
        .next()
        .unwrap_or(&c.source_type)
        .to_string();
    let m = ty::arrow_type(&CatalogColumn {
        data_type: base,
        precision: Some(38),
        scale: Some(0),
        ..Default::default()
    })
    .map_err(|msg| Error::column(table, &c.name, msg))?;
    Ok(ty::select_expr(&c.name, &m.read_as))
}

fn null_of(v: &ColumnData<'_>) -> bool {
    match v {
        ColumnData::U8(x) => x.is_none(),
        ColumnData::I16(x) => x.is_none(),
        ColumnData::I32(x) => x.is_none(),
        ColumnData::I64(x) => x.is_none(),
        ColumnData::F32(x) => x.is_none(),
        ColumnData::F64(x) => x.is_none(),
        ColumnData::Bit(x) => x.is_none(),
        ColumnData::String(x) => x.is_none(),
        ColumnData::Guid(x) => x.is_none(),
        ColumnData::Binary(x) => x.is_none(),
        ColumnData::Numeric(x) => x.is_none(),
        ColumnData::Xml(x) => x.is_none(),
        ColumnData::DateTime(x) => x.is_none(),
        ColumnData::SmallDateTime(x) => x.is_none(),
        ColumnData::Time(x) => x.is_none(),
        ColumnData::Date(x) => x.is_none(),
        ColumnData::DateTime2(x) => x.is_none(),
        ColumnData::DateTimeOffset(x) => x.is_none(),
    }
}

fn int_of(v: &ColumnData<'_>) -> Option<i64> {
    match v {
        ColumnData::U8(Some(x)) => Some(i64::from(*x)),
        ColumnData::I16(Some(x)) => Some(i64::from(*x)),
        ColumnData::I32(Some(x)) => Some(i64::from(*x)),
        ColumnData::I64(Some(x)) => Some(*x),
        _ => None,
    }
}

/// A timestamp value of any SQL Server date-time type in `unit` since 1970.
fn timestamp_of(v: &ColumnData<'_>, unit: TimeUnit) -> Option<Result<i64, String>> {
    let from_micros = |us: i64| match unit {
        TimeUnit::Microsecond => Ok(us),
        _ => us
            .checked_mul(1000)
            .ok_or_else(|| "the value is outside the range of a nanosecond timestamp".to_string()),
    };
    Some(match v {
        ColumnData::DateTime2(Some(d)) => ty::datetime2_to_unit(
            d.date().days(),
            d.time().increments(),
            d.time().scale(),
            unit,
        ),
        ColumnData::DateTimeOffset(Some(o)) => {
            let d = o.datetime2();
            ty::datetime2_to_unit(
                d.date().days(),
                d.time().increments(),
                d.time().scale(),
                unit,
            )
        }
        ColumnData::DateTime(Some(d)) => {
            from_micros(ty::datetime_to_micros(d.days(), d.seconds_fragments()))
        }
        ColumnData::SmallDateTime(Some(d)) => {
            from_micros(ty::smalldatetime_to_micros(d.days(), d.seconds_fragments()))
        }
        _ => return None,
    })
}

/// Appends one tiberius value to a column's builder, converted by the column's Arrow type.
fn append(b: &mut ColumnBuilder, v: ColumnData<'_>) -> Result<(), String> {
    if null_of(&v) {
        b.append_null();
        return Ok(());
    }
    let range = |what: &str| format!("{} does not fit {what}", shown(&v));
    match b {
        ColumnBuilder::Boolean(b) => match v {
            ColumnData::Bit(Some(x)) => b.append_value(x),
            _ => return Err(mismatch(&v, "bit")),
        },
        ColumnBuilder::UInt8(b) => {
            let i = int_of(&v).ok_or_else(|| mismatch(&v, "tinyint"))?;
            b.append_value(u8::try_from(i).map_err(|_| range("tinyint"))?);
        }
        ColumnBuilder::Int16(b) => {
            let i = int_of(&v).ok_or_else(|| mismatch(&v, "smallint"))?;
            b.append_value(i16::try_from(i).map_err(|_| range("smallint"))?);
        }
        ColumnBuilder::Int32(b) => {
            let i = int_of(&v).ok_or_else(|| mismatch(&v, "int"))?;
            b.append_value(i32::try_from(i).map_err(|_| range("int"))?);
        }
        ColumnBuilder::Int64(b) => {
            b.append_value(int_of(&v).ok_or_else(|| mismatch(&v, "bigint"))?)
        }
        ColumnBuilder::Float32(b) => match v {
            ColumnData::F32(Some(x)) => b.append_value(x),
            _ => return Err(mismatch(&v, "real")),
        },
        ColumnBuilder::Float64(b) => match v {
            ColumnData::F64(Some(x)) => b.append_value(x),
            ColumnData::F32(Some(x)) => b.append_value(f64::from(x)),
            _ => return Err(mismatch(&v, "float")),
        },
        ColumnBuilder::Decimal128(b, p, s) => {
            let (value, scale) = match &v {
                ColumnData::Numeric(Some(n)) => (n.value(), n.scale() as i8),
                other => match int_of(other) {
                    Some(i) => (i128::from(i), 0),
                    None => return Err(mismatch(&v, "decimal")),
                },
            };
            b.append_value(rescale(value, scale, *p, *s)?);
        }
        ColumnBuilder::Utf8(b) => match v {
            ColumnData::String(Some(s)) => append_text(b, &s)?,
            ColumnData::Guid(Some(g)) => b.append_value(ty::guid_text(&g)),
            ColumnData::Xml(Some(x)) => append_text(b, x.as_ref().as_ref())?,
            _ => return Err(mismatch(&v, "text")),
        },
        ColumnBuilder::Binary(b) => match v {
            ColumnData::Binary(Some(x)) => append_bytes(b, &x)?,
            _ => return Err(mismatch(&v, "binary")),
        },
        ColumnBuilder::Date32(b) => match v {
            ColumnData::Date(Some(d)) => b.append_value(ty::date_days_to_date32(d.days())),
            _ => return Err(mismatch(&v, "date")),
        },
        ColumnBuilder::Time64Nanosecond(b) => match v {
            ColumnData::Time(Some(t)) => {
                b.append_value(ty::time_to_nanos(t.increments(), t.scale())?)
            }
            _ => return Err(mismatch(&v, "time")),
        },
        ColumnBuilder::TimestampMicrosecond(b, _) => {
            let t = timestamp_of(&v, TimeUnit::Microsecond)
                .ok_or_else(|| mismatch(&v, "a date and time"))??;
            b.append_value(t);
        }
        ColumnBuilder::TimestampNanosecond(b) => {
            let t = timestamp_of(&v, TimeUnit::Nanosecond)
                .ok_or_else(|| mismatch(&v, "a date and time"))??;
            b.append_value(t);
        }
        // The type table maps no SQL Server column to another Arrow type.
        other => {
            return Err(format!(
                "the SQL Server reader has no conversion into Arrow {}",
                other.type_name()
            ))
        }
    }
    Ok(())
}

/// An unscaled decimal at `scale` → unscaled at `s`, exactly, within `p` digits.
fn rescale(value: i128, scale: i8, p: u8, s: i8) -> Result<i128, String> {
    let out = if scale <= s {
        10i128
            .checked_pow(u32::from((s - scale) as u8))
            .and_then(|f| value.checked_mul(f))
    } else {
        let f = 10i128.pow(u32::from((scale - s) as u8));
        (value % f == 0).then_some(value / f)
    };
    let text = crate::types::format_decimal(value, scale);
    let out = out.ok_or_else(|| format!("{text} does not fit DECIMAL({p},{s}) exactly"))?;
    if out.unsigned_abs() >= 10u128.pow(u32::from(p)) {
        return Err(format!("{text} does not fit DECIMAL({p},{s})"));
    }
    Ok(out)
}

fn shown(v: &ColumnData<'_>) -> String {
    match int_of(v) {
        Some(i) => format!("the value {i}"),
        None => "the value".to_string(),
    }
}

fn mismatch(v: &ColumnData<'_>, expected: &str) -> String {
    format!(
        "the driver returned a {} value where the catalog declares {expected}",
        v.type_name_public()
    )
}

trait TypeNamePublic {
    fn type_name_public(&self) -> &'static str;
}

impl TypeNamePublic for ColumnData<'_> {
    fn type_name_public(&self) -> &'static str {
        match self {
            ColumnData::U8(_) => "tinyint",
            ColumnData::I16(_) => "smallint",
            ColumnData::I32(_) => "int",
            ColumnData::I64(_) => "bigint",
            ColumnData::F32(_) => "real",
            ColumnData::F64(_) => "float",
            ColumnData::Bit(_) => "bit",
            ColumnData::String(_) => "string",
            ColumnData::Guid(_) => "uniqueidentifier",
            ColumnData::Binary(_) => "binary",
            ColumnData::Numeric(_) => "numeric",
            ColumnData::Xml(_) => "xml",
            ColumnData::DateTime(_) => "datetime",
            ColumnData::SmallDateTime(_) => "smalldatetime",
            ColumnData::Time(_) => "time",
            ColumnData::Date(_) => "date",
            ColumnData::DateTime2(_) => "datetime2",
            ColumnData::DateTimeOffset(_) => "datetimeoffset",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{
        DataType, Date32Type, Decimal128Type, TimestampNanosecondType, UInt8Type,
    };
    use std::borrow::Cow;
    use tiberius::numeric::Numeric;
    use tiberius::time::{Date, DateTime, DateTime2, DateTimeOffset, Time};

    fn col(dt: &DataType, rows: usize) -> ColumnBuilder {
        ColumnBuilder::new(dt, rows).unwrap()
    }

    #[test]
    fn values_convert_into_builders() {
        let mut u8c = col(&DataType::UInt8, 4);
        append(&mut u8c, ColumnData::U8(Some(255))).unwrap();
        append(&mut u8c, ColumnData::U8(None)).unwrap();
        let a = u8c.finish();
        assert_eq!(a.as_primitive::<UInt8Type>().value(0), 255);
        assert!(a.is_null(1));

        let mut d = col(&DataType::Decimal128(19, 4), 4);
        append(
            &mut d,
            ColumnData::Numeric(Some(Numeric::new_with_scale(-12345, 2))),
        )
        .unwrap();
        assert!(append(
            &mut d,
            ColumnData::Numeric(Some(Numeric::new_with_scale(1, 5)))
        )
        .unwrap_err()
        .contains("0.00001 does not fit DECIMAL(19,4) exactly"));
        assert_eq!(
            d.finish().as_primitive::<Decimal128Type>().value(0),
            -1_234_500
        );

        let mut t = col(&DataType::Utf8, 4);
        append(&mut t, ColumnData::String(Some(Cow::Borrowed("Grüße")))).unwrap();
        let g = tiberius::Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fd430c8").unwrap();
        append(&mut t, ColumnData::Guid(Some(g))).unwrap();
        let a = t.finish();
        assert_eq!(a.as_string::<i32>().value(0), "Grüße");
        assert_eq!(
            a.as_string::<i32>().value(1),
            "6F9619FF-8B86-D011-B42D-00C04FD430C8"
        );

        let mut dt = col(&DataType::Date32, 2);
        append(&mut dt, ColumnData::Date(Some(Date::new(719_163)))).unwrap();
        assert_eq!(dt.finish().as_primitive::<Date32Type>().value(0), 1);

        let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let mut ts = col(&ns, 2);
        let dt2 = DateTime2::new(Date::new(719_162), Time::new(12_345, 7));
        append(
            &mut ts,
            ColumnData::DateTimeOffset(Some(DateTimeOffset::new(dt2, 60))),
        )
        .unwrap();
        append(
            &mut ts,
            ColumnData::DateTime2(Some(DateTime2::new(Date::new(3_652_058), Time::new(0, 7)))),
        )
        .map(|_| ())
        .unwrap_err();
        let a = ts.finish();
        assert_eq!(a.data_type(), &ns);
        assert_eq!(
            a.as_primitive::<TimestampNanosecondType>().value(0),
            1_234_500
        );

        let mut legacy = col(&DataType::Timestamp(TimeUnit::Microsecond, None), 2);
        append(
            &mut legacy,
            ColumnData::DateTime(Some(DateTime::new(25_567, 1))),
        )
        .unwrap();
        assert!(
            append(&mut col(&DataType::Boolean, 1), ColumnData::I32(Some(1)))
                .unwrap_err()
                .contains("int value where the catalog declares bit")
        );
    }

    #[test]
    fn read_expressions_follow_the_type_table() {
        let c = ColumnInfo {
            name: "Amount".into(),
            source_type: "money".into(),
            arrow_type: DataType::Decimal128(19, 4),
            nullable: true,
            note: None,
        };
        assert_eq!(
            read_expr(&c, "t").unwrap(),
            "CAST([Amount] AS DECIMAL(19,4)) AS [Amount]"
        );
        let c = ColumnInfo {
            source_type: "decimal(12,2)".into(),
            ..c
        };
        assert_eq!(read_expr(&c, "t").unwrap(), "[Amount]");
    }
}
