//! Oracle source (the `oracle` crate over ODPI-C; built with `--features oracle`). ODPI-C
//! loads Oracle Instant Client's `libclntsh` at run time, from `SRC_ORACLE_CLIENT_PATH`
//! when set, else from the system's library path. Types, names and connect strings follow
//! `types::oracle`.
//!
//! Rows are fetched in round trips of `chunk_rows` rows (capped at 10 000:
//! `fetch_array_size` and `prefetch_rows`) and converted into per-column Arrow builders.
//! LOBs are fetched as whole values into dynamically sized buffers (no fixed maximum).

use std::collections::HashMap;

use arrow::datatypes::{IntervalMonthDayNano, TimeUnit};
use oracle::sql_type::{IntervalDS, IntervalYM, Timestamp};
use oracle::{Connection, Connector, InitParams, SqlValue};

use super::columns::{append_bytes, append_text, BatchBuilder, ColumnBuilder};
use super::{BatchSink, ColumnInfo, ReadOptions, Source, TableInfo, TableRef};
use crate::config::Endpoint;
use crate::db::oracle as db;
use crate::error::{Error, Result};
use crate::types::oracle::{self as ty, CatalogColumn, ReadAs, UnconstrainedNumber};
use crate::types::{self};

/// Largest array fetch per round trip.
const MAX_FETCH_ARRAY: usize = 10_000;

pub struct OracleSource {
    conn: Connection,
    unconstrained: UnconstrainedNumber,
    /// Listed (schema, table) → the catalog's (owner, table).
    resolved: HashMap<(Option<String>, String), (String, String)>,
}

fn ora_code(e: &oracle::Error) -> Option<u32> {
    e.db_error().and_then(|d| u32::try_from(d.code()).ok())
}

fn db_err(context: impl std::fmt::Display) -> impl FnOnce(oracle::Error) -> Error {
    let context = context.to_string();
    move |e| {
        let transient = ora_code(&e).is_some_and(|c| db::TRANSIENT_ORA.contains(&c));
        Error::database(context, transient, e)
    }
}

impl OracleSource {
    pub fn open(endpoint: &Endpoint) -> Result<Self> {
        let connect_err = |message: String| Error::Connect {
            side: "source",
            target: endpoint.describe(),
            message,
        };
        let client_path = endpoint.oracle_client_path.as_deref();
        if let Some(dir) = client_path {
            let init = InitParams::new()
                .oracle_client_lib_dir(dir)
                .and_then(|p| p.init());
            if let Err(e) = init {
                let text = e.to_string();
                return Err(connect_err(if db::is_missing_client(&text) {
                    db::missing_client_message(Some(dir))
                } else {
                    text
                }));
            }
        }
        let target = db::connect_target(
            endpoint.oracle_tns_alias.as_deref(),
            endpoint.oracle_sid.as_deref(),
            endpoint.database.as_deref(),
        )
        .map_err(Error::config)?;
        let host = endpoint.host.as_deref().unwrap_or("localhost");
        let port = endpoint.port.unwrap_or(1521);
        let connect_string = db::connect_string(&target, host, port);
        let username = endpoint.username.clone().unwrap_or_default();
        let password = endpoint
            .password
            .as_ref()
            .map(|p| p.expose().to_string())
            .unwrap_or_default();
        let conn = Connector::new(username, password, connect_string)
            .connect()
            .map_err(|e| {
                let text = e.to_string();
                connect_err(if db::is_missing_client(&text) {
                    db::missing_client_message(client_path)
                } else {
                    text
                })
            })?;
        Ok(OracleSource {
            conn,
            unconstrained: endpoint.oracle_number,
            resolved: HashMap::new(),
        })
    }

    fn current_schema(&self) -> Result<String> {
        let row = self
            .conn
            .query_row(db::CURRENT_SCHEMA_SQL, &[])
            .map_err(db_err("reading the current schema"))?;
        row.get::<_, String>(0)
            .map_err(db_err("reading the current schema"))
    }

    fn catalog(&self, owner: &str, table: &str) -> Result<Vec<(String, CatalogColumn, bool)>> {
        let ctx = format!("table {owner}.{table}: reading the catalog");
        let rows = self
            .conn
            .query(db::CATALOG_SQL, &[&owner, &table])
            .map_err(db_err(&ctx))?;
        let mut out = Vec::new();
        for row in rows {
            let row = row.map_err(db_err(&ctx))?;
            let get_err = db_err(&ctx);
            let name: String = row.get(0).map_err(get_err)?;
            let c = CatalogColumn {
                data_type: row.get(1).map_err(db_err(&ctx))?,
                precision: row.get(2).map_err(db_err(&ctx))?,
                scale: row.get(3).map_err(db_err(&ctx))?,
                char_length: row.get(4).map_err(db_err(&ctx))?,
            };
            let nullable: String = row.get(5).map_err(db_err(&ctx))?;
            out.push((name, c, nullable == "Y"));
        }
        Ok(out)
    }

    fn resolved(&self, table: &TableRef) -> Result<&(String, String)> {
        self.resolved
            .get(&(table.schema.clone(), table.name.clone()))
            .ok_or_else(|| Error::Check(format!("table {}: not described", table.display())))
    }
}

impl Source for OracleSource {
    fn server_version(&mut self) -> Result<String> {
        let (v, banner) = self
            .conn
            .server_version()
            .map_err(db_err("reading the server version"))?;
        Ok(format!(
            "Oracle {v} ({})",
            banner.lines().next().unwrap_or("")
        ))
    }

    fn describe(&mut self, table: &TableRef) -> Result<TableInfo> {
        let owner = match &table.schema {
            Some(s) => s.clone(),
            None => self.current_schema()?,
        };
        let mut found = None;
        for (o, t) in db::lookup_candidates(&owner, &table.name) {
            let cols = self.catalog(&o, &t)?;
            if !cols.is_empty() {
                found = Some((o, t, cols));
                break;
            }
        }
        let Some((o, t, cols)) = found else {
            return Err(Error::TableNotFound {
                table: table.display(),
                hint: format!(
                    " (looked in ALL_TAB_COLUMNS for owner {owner} / {}, as written and upper-cased)",
                    owner.to_uppercase()
                ),
            });
        };
        let mut columns = Vec::new();
        for (name, c, nullable) in cols {
            let m = ty::arrow_type(&c, self.unconstrained)
                .map_err(|msg| Error::column(&table.display(), &name, msg))?;
            columns.push(ColumnInfo {
                name,
                source_type: c.declared(),
                arrow_type: m.arrow,
                nullable,
                note: m.note,
            });
        }
        self.resolved
            .insert((table.schema.clone(), table.name.clone()), (o, t));
        Ok(TableInfo {
            table: table.clone(),
            columns,
            filter: None,
        })
    }

    fn count_rows(&mut self, table: &TableInfo) -> Result<u64> {
        let (o, t) = self.resolved(&table.table)?.clone();
        let sql = format!(
            "SELECT COUNT(*) FROM {}",
            table.from_clause(crate::dialect::Dialect::Oracle.qualify(Some(&o), &t))
        );
        let row = self.conn.query_row(&sql, &[]).map_err(db_err(format!(
            "table {}: counting rows",
            table.table.display()
        )))?;
        let n: u64 = row.get(0).map_err(db_err(format!(
            "table {}: counting rows",
            table.table.display()
        )))?;
        Ok(n)
    }

    fn read(
        &mut self,
        table: &TableInfo,
        opts: &ReadOptions,
        sink: &mut BatchSink<'_>,
    ) -> Result<u64> {
        let name = table.table.display();
        let (o, t) = self.resolved(&table.table)?.clone();
        let mut fetches = Vec::new();
        let mut exprs = Vec::new();
        for c in &table.columns {
            let m = ty::arrow_type(&declared_back(&c.source_type), self.unconstrained)
                .map_err(|msg| Error::column(&name, &c.name, msg))?;
            exprs.push(db::select_expr(&c.name, m.extract_utc));
            fetches.push((m.fetch, m.note.is_some()));
        }
        let sql = db::select_sql(&o, &t, &exprs, opts.row_limit, table.filter.as_deref());
        let chunk = opts.chunk_rows.max(1);
        let array = chunk.min(MAX_FETCH_ARRAY) as u32;
        let mut stmt = self
            .conn
            .statement(&sql)
            .fetch_array_size(array)
            .prefetch_rows(array)
            .build()
            .map_err(db_err(format!("table {name}: preparing the read")))?;
        let rows = stmt
            .query(&[])
            .map_err(db_err(format!("table {name}: reading")))?;
        let mut batch = BatchBuilder::new(table, chunk, "Oracle")?.with_max_bytes(opts.chunk_bytes);
        for row in rows {
            let row = row.map_err(|e| {
                db_err(format!("table {name}: reading row {}", batch.rows() + 1))(e)
            })?;
            batch.push_row(|n, columns| {
                for ((b, v), (c, (fetch, loose))) in columns
                    .iter_mut()
                    .zip(row.sql_values())
                    .zip(table.columns.iter().zip(&fetches))
                {
                    append(b, *fetch, *loose, v).map_err(|m| Error::value(&name, &c.name, n, m))?;
                }
                Ok(())
            })?;
            batch.send_if_full(sink)?;
        }
        batch.finish(sink)
    }
}

/// Rebuilds the catalog entry from the declared type kept in `ColumnInfo.source_type`.
fn declared_back(declared: &str) -> CatalogColumn {
    let upper = declared.trim().to_ascii_uppercase();
    let (base, args) = match upper.split_once('(') {
        Some((b, rest)) if b == "NUMBER" || b == "FLOAT" => (
            b.to_string(),
            rest.split_once(')').map(|(a, _)| a.to_string()),
        ),
        _ => (upper.clone(), None),
    };
    if base != "NUMBER" && base != "FLOAT" {
        // Timestamps and intervals carry their digits in DATA_TYPE itself.
        let data_type = if upper.starts_with("TIMESTAMP") || upper.starts_with("INTERVAL") {
            upper.clone()
        } else {
            upper.split('(').next().unwrap_or(&upper).to_string()
        };
        return CatalogColumn {
            data_type,
            ..Default::default()
        };
    }
    let mut parts = args.as_deref().unwrap_or("").split(',').map(str::trim);
    let p = parts.next().and_then(|x| x.parse::<i64>().ok());
    let s = parts.next().and_then(|x| x.parse::<i64>().ok());
    let s = match (base.as_str(), p, s, args.is_some()) {
        ("NUMBER", Some(_), None, true) => Some(0),
        _ => s,
    };
    CatalogColumn {
        data_type: base,
        precision: p,
        scale: s,
        char_length: None,
    }
}

/// Appends one fetched value to a column's builder. `fetch` says how the value was
/// fetched; `loose` that a decimal's scale came from `SRC_ORACLE_NUMBER_SCALE`.
fn append(b: &mut ColumnBuilder, fetch: ReadAs, loose: bool, v: &SqlValue) -> Result<(), String> {
    if v.is_null().map_err(|e| e.to_string())? {
        b.append_null();
        return Ok(());
    }
    let text = || v.get::<String>().map_err(|e| e.to_string());
    match (b, fetch) {
        (ColumnBuilder::Int32(b), ReadAs::NumberText) => {
            let t = text()?;
            b.append_value(
                t.trim()
                    .parse()
                    .map_err(|_| format!("{t} does not fit int32"))?,
            )
        }
        (ColumnBuilder::Int64(b), ReadAs::NumberText) => {
            let t = text()?;
            b.append_value(
                t.trim()
                    .parse()
                    .map_err(|_| format!("{t} does not fit int64"))?,
            )
        }
        (ColumnBuilder::Decimal128(b, p, s), ReadAs::NumberText) => {
            let t = text()?;
            let d = types::parse_decimal(&t, *p, *s).map_err(|m| {
                if loose {
                    format!(
                        "{m}; set {} to read this column with another scale (0-38) or as text",
                        ty::NUMBER_SCALE_KEY
                    )
                } else {
                    m
                }
            })?;
            b.append_value(d)
        }
        // Exact decimal text (NumberText) and every text type.
        (ColumnBuilder::Utf8(b), ReadAs::NumberText | ReadAs::Text) => append_text(b, &text()?)?,
        (ColumnBuilder::Float64(b), ReadAs::FloatText) => {
            b.append_value(ty::parse_float_exact(&text()?)?)
        }
        (ColumnBuilder::Float32(b), ReadAs::Float32) => {
            b.append_value(v.get::<f32>().map_err(|e| e.to_string())?)
        }
        (ColumnBuilder::Float64(b), ReadAs::Float64) => {
            b.append_value(v.get::<f64>().map_err(|e| e.to_string())?)
        }
        (ColumnBuilder::Binary(b), ReadAs::Bytes) => {
            append_bytes(b, &v.get::<Vec<u8>>().map_err(|e| e.to_string())?)?
        }
        (ColumnBuilder::TimestampMicrosecond(b, _), ReadAs::Timestamp) => {
            b.append_value(timestamp(v, TimeUnit::Microsecond)?)
        }
        (ColumnBuilder::TimestampNanosecond(b), ReadAs::Timestamp) => {
            b.append_value(timestamp(v, TimeUnit::Nanosecond)?)
        }
        (ColumnBuilder::IntervalMonthDayNano(b), ReadAs::IntervalYm) => {
            let i = v.get::<IntervalYM>().map_err(|e| e.to_string())?;
            let months = ty::interval_ym_months(i.years(), i.months())
                .ok_or_else(|| "interval out of range".to_string())?;
            b.append_value(IntervalMonthDayNano::new(months, 0, 0))
        }
        (ColumnBuilder::IntervalMonthDayNano(b), ReadAs::IntervalDs) => {
            let i = v.get::<IntervalDS>().map_err(|e| e.to_string())?;
            let (days, ns) = ty::interval_ds_parts(
                i.days(),
                i.hours(),
                i.minutes(),
                i.seconds(),
                i.nanoseconds(),
            );
            b.append_value(IntervalMonthDayNano::new(0, days, ns))
        }
        // The type table pairs every fetch with one of the Arrow types above.
        (other, fetch) => {
            return Err(format!(
                "the Oracle reader has no conversion of {fetch:?} into Arrow {}",
                other.type_name()
            ))
        }
    }
    Ok(())
}

fn timestamp(v: &SqlValue, unit: TimeUnit) -> Result<i64, String> {
    let t = v.get::<Timestamp>().map_err(|e| e.to_string())?;
    ty::timestamp_parts(
        (t.year(), t.month(), t.day()),
        (t.hour(), t.minute(), t.second(), t.nanosecond()),
        unit,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_map_back_to_the_same_arrow_type() {
        for c in [
            CatalogColumn {
                data_type: "NUMBER".into(),
                precision: Some(12),
                scale: Some(2),
                char_length: None,
            },
            CatalogColumn {
                data_type: "NUMBER".into(),
                precision: Some(5),
                scale: Some(0),
                char_length: None,
            },
            CatalogColumn {
                data_type: "NUMBER".into(),
                ..Default::default()
            },
            CatalogColumn {
                data_type: "FLOAT".into(),
                precision: Some(126),
                ..Default::default()
            },
            CatalogColumn {
                data_type: "TIMESTAMP(9) WITH TIME ZONE".into(),
                ..Default::default()
            },
            CatalogColumn {
                data_type: "VARCHAR2".into(),
                char_length: Some(20),
                ..Default::default()
            },
        ] {
            let u = UnconstrainedNumber::default();
            let want = ty::arrow_type(&c, u).unwrap();
            let got = ty::arrow_type(&declared_back(&c.declared()), u).unwrap();
            assert_eq!(got.arrow, want.arrow, "{}", c.declared());
            assert_eq!(got.fetch, want.fetch, "{}", c.declared());
        }
    }
}
