//! SQL Server source (tiberius over TDS 7.3+, TLS by rustls). Column types follow
//! `types::mssql`; rows are streamed one at a time from the server into per-column Arrow
//! builders, and a batch is handed on every `chunk_rows` rows.
//!
//! The connection (`db::mssql`) owns a small current-thread tokio runtime and blocks on
//! it, so the rest of `stage` stays synchronous. The sink is never called from inside the
//! runtime.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Decimal128Builder, Float32Builder,
    Float64Builder, Int16Builder, Int32Builder, Int64Builder, StringBuilder,
    Time64NanosecondBuilder, TimestampMicrosecondBuilder, TimestampNanosecondBuilder, UInt8Builder,
};
use arrow::datatypes::{DataType, TimeUnit};
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use tiberius::{ColumnData, Query};

use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::Endpoint;
use crate::db::mssql::{self as db, cell, db_err, Client};
use crate::error::{Error, Result};
use crate::types::mssql::{self as ty, CatalogColumn};

pub struct MssqlSource {
    rt: tokio::runtime::Runtime,
    client: Client,
    default_schema: String,
}

impl MssqlSource {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let (rt, _, client) = db::open(endpoint, "source", None)?;
        Ok(MssqlSource {
            rt,
            client,
            default_schema: ty::DEFAULT_SCHEMA.to_string(),
        })
    }

    fn schema_of<'t>(&'t self, table: &'t TableRef) -> &'t str {
        table.schema.as_deref().unwrap_or(&self.default_schema)
    }
}

impl Source for MssqlSource {
    fn server_version(&mut self) -> Result<String> {
        self.rt
            .block_on(db::server_version(&mut self.client))
            .map_err(db_err("reading the server version"))
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        let schema = self.schema_of(table).to_string();
        let ctx = format!("table {}: reading the catalog", table.display());
        let rt = &self.rt;
        let client = &mut self.client;
        let rows = rt
            .block_on(async {
                let mut q = Query::new(ty::CATALOG_SQL);
                q.bind(schema.as_str());
                q.bind(table.name.as_str());
                q.query(client).await?.into_first_result().await
            })
            .map_err(db_err(&ctx))?;
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
        })
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let schema = self.schema_of(&table.table).to_string();
        let sql = format!(
            "SELECT COUNT_BIG(*) FROM {}",
            crate::dialect::Dialect::Mssql.qualify(Some(&schema), &table.table.name)
        );
        let rt = &self.rt;
        let client = &mut self.client;
        let row = rt
            .block_on(async { client.simple_query(sql).await?.into_row().await })
            .map_err(db_err(format!(
                "table {}: counting rows",
                table.table.display()
            )))?;
        let n: Option<i64> = row.as_ref().and_then(|r| cell(r, 0));
        Ok(n.unwrap_or(0).max(0) as u64)
    }

    fn read(
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
        let sql = ty::select_sql(&schema_name, &table.table.name, &exprs, opts.row_limit);
        let schema = table.schema();
        let chunk = opts.chunk_rows.max(1);
        let mut builders: Vec<Col> = table
            .columns
            .iter()
            .map(|c| Col::new(&c.arrow_type, chunk))
            .collect();
        let rt = &self.rt;
        let client = &mut self.client;
        let mut stream = rt
            .block_on(client.simple_query(sql))
            .map_err(db_err(format!("table {name}: starting the read")))?
            .into_row_stream();
        let mut total: u64 = 0;
        loop {
            // Fill one batch inside the runtime; hand it on outside of it.
            let (in_batch, done) = rt.block_on(async {
                let mut n = 0usize;
                while n < chunk {
                    let row = stream
                        .try_next()
                        .await
                        .map_err(db_err(format!("table {name}: reading row {}", total + 1)))?;
                    let Some(row) = row else {
                        return Ok::<_, Error>((n, true));
                    };
                    total += 1;
                    for (i, v) in row.into_iter().enumerate() {
                        let (Some(b), Some(c)) = (builders.get_mut(i), table.columns.get(i))
                        else {
                            return Err(Error::Check(format!(
                                "table {name}: the server returned more columns than the catalog lists"
                            )));
                        };
                        b.append(v)
                            .map_err(|m| Error::value(&name, &c.name, total, m))?;
                    }
                    n += 1;
                }
                Ok((n, false))
            })?;
            if in_batch > 0 {
                let arrays = builders.iter_mut().map(Col::finish).collect();
                let batch = RecordBatch::try_new(schema.clone(), arrays)
                    .map_err(|e| Error::archive(format!("table {name}: building a batch"), e))?;
                sink(batch)?;
            }
            if done {
                break;
            }
        }
        Ok(total)
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

/// One column's builder, converting tiberius values by the column's Arrow type.
pub(crate) enum Col {
    Bool(BooleanBuilder),
    U8(UInt8Builder),
    I16(Int16Builder),
    I32(Int32Builder),
    I64(Int64Builder),
    F32(Float32Builder),
    F64(Float64Builder),
    Decimal(Decimal128Builder, u8, i8),
    Text(StringBuilder),
    Blob(BinaryBuilder),
    Date(Date32Builder),
    Time(Time64NanosecondBuilder),
    TsMicros(TimestampMicrosecondBuilder),
    TsNanos(TimestampNanosecondBuilder),
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

impl Col {
    pub(crate) fn new(dt: &DataType, cap: usize) -> Col {
        let cap = cap.min(65_536);
        match dt {
            DataType::Boolean => Col::Bool(BooleanBuilder::with_capacity(cap)),
            DataType::UInt8 => Col::U8(UInt8Builder::with_capacity(cap)),
            DataType::Int16 => Col::I16(Int16Builder::with_capacity(cap)),
            DataType::Int32 => Col::I32(Int32Builder::with_capacity(cap)),
            DataType::Int64 => Col::I64(Int64Builder::with_capacity(cap)),
            DataType::Float32 => Col::F32(Float32Builder::with_capacity(cap)),
            DataType::Float64 => Col::F64(Float64Builder::with_capacity(cap)),
            DataType::Decimal128(p, s) => {
                let b = Decimal128Builder::with_capacity(cap);
                match b.with_precision_and_scale(*p, *s) {
                    Ok(b) => Col::Decimal(b, *p, *s),
                    // The type table only produces valid (p, s); keep the builder usable.
                    Err(_) => Col::Decimal(Decimal128Builder::with_capacity(cap), 38, 10),
                }
            }
            DataType::Binary => Col::Blob(BinaryBuilder::with_capacity(cap, cap * 16)),
            DataType::Date32 => Col::Date(Date32Builder::with_capacity(cap)),
            DataType::Time64(_) => Col::Time(Time64NanosecondBuilder::with_capacity(cap)),
            DataType::Timestamp(TimeUnit::Nanosecond, tz) => Col::TsNanos(
                TimestampNanosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
            ),
            DataType::Timestamp(_, tz) => Col::TsMicros(
                TimestampMicrosecondBuilder::with_capacity(cap).with_timezone_opt(tz.clone()),
            ),
            _ => Col::Text(StringBuilder::with_capacity(cap, cap * 16)),
        }
    }

    pub(crate) fn append(&mut self, v: ColumnData<'_>) -> Result<(), String> {
        if null_of(&v) {
            self.append_null();
            return Ok(());
        }
        let range = |what: &str| format!("{} does not fit {what}", shown(&v));
        match self {
            Col::Bool(b) => match v {
                ColumnData::Bit(Some(x)) => b.append_value(x),
                _ => return Err(mismatch(&v, "bit")),
            },
            Col::U8(b) => {
                let i = int_of(&v).ok_or_else(|| mismatch(&v, "tinyint"))?;
                b.append_value(u8::try_from(i).map_err(|_| range("tinyint"))?);
            }
            Col::I16(b) => {
                let i = int_of(&v).ok_or_else(|| mismatch(&v, "smallint"))?;
                b.append_value(i16::try_from(i).map_err(|_| range("smallint"))?);
            }
            Col::I32(b) => {
                let i = int_of(&v).ok_or_else(|| mismatch(&v, "int"))?;
                b.append_value(i32::try_from(i).map_err(|_| range("int"))?);
            }
            Col::I64(b) => b.append_value(int_of(&v).ok_or_else(|| mismatch(&v, "bigint"))?),
            Col::F32(b) => match v {
                ColumnData::F32(Some(x)) => b.append_value(x),
                _ => return Err(mismatch(&v, "real")),
            },
            Col::F64(b) => match v {
                ColumnData::F64(Some(x)) => b.append_value(x),
                ColumnData::F32(Some(x)) => b.append_value(f64::from(x)),
                _ => return Err(mismatch(&v, "float")),
            },
            Col::Decimal(b, p, s) => {
                let (value, scale) = match &v {
                    ColumnData::Numeric(Some(n)) => (n.value(), n.scale() as i8),
                    other => match int_of(other) {
                        Some(i) => (i128::from(i), 0),
                        None => return Err(mismatch(&v, "decimal")),
                    },
                };
                b.append_value(rescale(value, scale, *p, *s)?);
            }
            Col::Text(b) => match v {
                ColumnData::String(Some(s)) => b.append_value(s),
                ColumnData::Guid(Some(g)) => b.append_value(ty::guid_text(&g)),
                ColumnData::Xml(Some(x)) => b.append_value(x.as_ref().as_ref()),
                _ => return Err(mismatch(&v, "text")),
            },
            Col::Blob(b) => match v {
                ColumnData::Binary(Some(x)) => b.append_value(x),
                _ => return Err(mismatch(&v, "binary")),
            },
            Col::Date(b) => match v {
                ColumnData::Date(Some(d)) => b.append_value(ty::date_days_to_date32(d.days())),
                _ => return Err(mismatch(&v, "date")),
            },
            Col::Time(b) => match v {
                ColumnData::Time(Some(t)) => {
                    b.append_value(ty::time_to_nanos(t.increments(), t.scale())?)
                }
                _ => return Err(mismatch(&v, "time")),
            },
            Col::TsMicros(b) => {
                let t = timestamp_of(&v, TimeUnit::Microsecond)
                    .ok_or_else(|| mismatch(&v, "a date and time"))??;
                b.append_value(t);
            }
            Col::TsNanos(b) => {
                let t = timestamp_of(&v, TimeUnit::Nanosecond)
                    .ok_or_else(|| mismatch(&v, "a date and time"))??;
                b.append_value(t);
            }
        }
        Ok(())
    }

    fn append_null(&mut self) {
        match self {
            Col::Bool(b) => b.append_null(),
            Col::U8(b) => b.append_null(),
            Col::I16(b) => b.append_null(),
            Col::I32(b) => b.append_null(),
            Col::I64(b) => b.append_null(),
            Col::F32(b) => b.append_null(),
            Col::F64(b) => b.append_null(),
            Col::Decimal(b, ..) => b.append_null(),
            Col::Text(b) => b.append_null(),
            Col::Blob(b) => b.append_null(),
            Col::Date(b) => b.append_null(),
            Col::Time(b) => b.append_null(),
            Col::TsMicros(b) => b.append_null(),
            Col::TsNanos(b) => b.append_null(),
        }
    }

    pub(crate) fn finish(&mut self) -> ArrayRef {
        match self {
            Col::Bool(b) => Arc::new(b.finish()),
            Col::U8(b) => Arc::new(b.finish()),
            Col::I16(b) => Arc::new(b.finish()),
            Col::I32(b) => Arc::new(b.finish()),
            Col::I64(b) => Arc::new(b.finish()),
            Col::F32(b) => Arc::new(b.finish()),
            Col::F64(b) => Arc::new(b.finish()),
            Col::Decimal(b, ..) => Arc::new(b.finish()),
            Col::Text(b) => Arc::new(b.finish()),
            Col::Blob(b) => Arc::new(b.finish()),
            Col::Date(b) => Arc::new(b.finish()),
            Col::Time(b) => Arc::new(b.finish()),
            Col::TsMicros(b) => Arc::new(b.finish()),
            Col::TsNanos(b) => Arc::new(b.finish()),
        }
    }
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
    use arrow::datatypes::{Date32Type, Decimal128Type, TimestampNanosecondType, UInt8Type};
    use std::borrow::Cow;
    use tiberius::numeric::Numeric;
    use tiberius::time::{Date, DateTime, DateTime2, DateTimeOffset, Time};

    #[test]
    fn values_convert_into_builders() {
        let mut u8c = Col::new(&DataType::UInt8, 4);
        u8c.append(ColumnData::U8(Some(255))).unwrap();
        u8c.append(ColumnData::U8(None)).unwrap();
        let a = u8c.finish();
        assert_eq!(a.as_primitive::<UInt8Type>().value(0), 255);
        assert!(a.is_null(1));

        let mut d = Col::new(&DataType::Decimal128(19, 4), 4);
        d.append(ColumnData::Numeric(Some(Numeric::new_with_scale(
            -12345, 2,
        ))))
        .unwrap();
        assert!(d
            .append(ColumnData::Numeric(Some(Numeric::new_with_scale(1, 5))))
            .unwrap_err()
            .contains("0.00001 does not fit DECIMAL(19,4) exactly"));
        assert_eq!(
            d.finish().as_primitive::<Decimal128Type>().value(0),
            -1_234_500
        );

        let mut t = Col::new(&DataType::Utf8, 4);
        t.append(ColumnData::String(Some(Cow::Borrowed("Grüße"))))
            .unwrap();
        let g = tiberius::Uuid::parse_str("6f9619ff-8b86-d011-b42d-00c04fd430c8").unwrap();
        t.append(ColumnData::Guid(Some(g))).unwrap();
        let a = t.finish();
        assert_eq!(a.as_string::<i32>().value(0), "Grüße");
        assert_eq!(
            a.as_string::<i32>().value(1),
            "6F9619FF-8B86-D011-B42D-00C04FD430C8"
        );

        let mut dt = Col::new(&DataType::Date32, 2);
        dt.append(ColumnData::Date(Some(Date::new(719_163))))
            .unwrap();
        assert_eq!(dt.finish().as_primitive::<Date32Type>().value(0), 1);

        let ns = DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()));
        let mut ts = Col::new(&ns, 2);
        let dt2 = DateTime2::new(Date::new(719_162), Time::new(12_345, 7));
        ts.append(ColumnData::DateTimeOffset(Some(DateTimeOffset::new(
            dt2, 60,
        ))))
        .unwrap();
        ts.append(ColumnData::DateTime2(Some(DateTime2::new(
            Date::new(3_652_058),
            Time::new(0, 7),
        ))))
        .map(|_| ())
        .unwrap_err();
        let a = ts.finish();
        assert_eq!(a.data_type(), &ns);
        assert_eq!(
            a.as_primitive::<TimestampNanosecondType>().value(0),
            1_234_500
        );

        let mut legacy = Col::new(&DataType::Timestamp(TimeUnit::Microsecond, None), 2);
        legacy
            .append(ColumnData::DateTime(Some(DateTime::new(25_567, 1))))
            .unwrap();
        assert!(Col::new(&DataType::Boolean, 1)
            .append(ColumnData::I32(Some(1)))
            .unwrap_err()
            .contains("int value where the catalog declares bit"));
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
