//! The staging table's session-level advisory lock (held from `begin` until the swap or
//! the end of the load), and dropping the helper tables that killed runs left, done under
//! that lock.

use postgres::Client;

use super::{PgDestination, D, IDENTIFIER_BYTES};
use crate::db::postgres::db_err;
use crate::error::{Error, Result};
use crate::load::{acquire_lock, helper_prefix, like_prefix, stale_helpers, LoadTarget};

/// A session-level advisory lock on a staging table (see [`PgDestination::lock`]).
pub(super) struct Locked {
    pub(super) key: i64,
}

impl Locked {
    pub(super) fn release(&self, client: &mut Client) {
        if client.is_closed() {
            return; // the server released it with the session
        }
        if let Err(e) = client.execute("SELECT pg_advisory_unlock($1)", &[&self.key]) {
            tracing::warn!(
                "releasing the staging table's lock failed (it ends with the session): {e}"
            );
        }
    }
}

impl PgDestination {
    /// Takes the staging table's session-level advisory lock (`pg_try_advisory_lock` on a
    /// hash of schema.table), waiting up to `LOCK_WAIT_SECONDS`. Held for the whole load
    /// and swap; another run that finds it held fails this table with `Error::Locked`.
    pub(super) fn lock(&mut self, target: &LoadTarget) -> Result<()> {
        let key = target.lock_key();
        let ctx = format!("staging table {}: taking its lock", target.display());
        let client = &mut self.client;
        let got = acquire_lock(target.lock_wait, || {
            let row = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .map_err(db_err(&ctx))?;
            Ok(row.get::<_, bool>(0))
        })?;
        if got {
            return Ok(());
        }
        let unsigned = key as u64;
        let holder = self
            .client
            .query_opt(
                "SELECT a.pid, coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), \
                        to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') \
                 FROM pg_catalog.pg_locks l JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2 LIMIT 1",
                &[&((unsigned >> 32) as i64), &((unsigned & 0xffff_ffff) as i64)],
            )
            .ok()
            .flatten()
            .map(|r| {
                format!(
                    " (held by PostgreSQL backend pid {}, application \"{}\", from {}, connected since {})",
                    r.get::<_, i32>(0),
                    r.get::<_, String>(1),
                    r.get::<_, String>(2),
                    r.get::<_, String>(3)
                )
            })
            .unwrap_or_default();
        Err(Error::Locked {
            table: target.display(),
            holder,
        })
    }

    /// Drops the helper tables (shadows, retired tables) that killed runs left for this
    /// staging table. Called with the table's lock held, so no live run owns them.
    pub(super) fn drop_stale_helpers(&mut self, target: &LoadTarget) -> Result<()> {
        let schema = target.schema.as_deref().unwrap_or("public");
        let prefix = helper_prefix(&target.table, IDENTIFIER_BYTES);
        let ctx = format!(
            "staging table {}: looking for stale helper tables",
            target.display()
        );
        let found: Vec<String> = self
            .client
            .query(
                "SELECT c.relname::text FROM pg_catalog.pg_class c \
                 JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname LIKE $2",
                &[&schema, &like_prefix(&prefix)],
            )
            .map_err(db_err(&ctx))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for stale in stale_helpers(&target.table, IDENTIFIER_BYTES, found) {
            let q = D.qualify(target.schema.as_deref(), &stale);
            self.client
                .batch_execute(&format!("DROP TABLE IF EXISTS {q}"))
                .map_err(db_err(format!(
                    "staging table {}: dropping {q}, left by a killed run",
                    target.display()
                )))?;
            tracing::info!(table = %target.display(), helper = %stale, "dropped a helper table left by an earlier, killed run");
        }
        Ok(())
    }
}
