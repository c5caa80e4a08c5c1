//! The session's limits (`[settings] STATEMENT_TIMEOUT_SECONDS`, `LOCK_TIMEOUT_SECONDS`) as
//! `SET SESSION` variables, and the server errors they end in.

use std::time::Duration;

use crate::config::Timeouts;
use crate::db::{LOCK_TIMEOUT_KEY as LOCK_KEY, STATEMENT_TIMEOUT_KEY as STATEMENT_KEY};

/// ER_LOCK_WAIT_TIMEOUT: a row lock (`innodb_lock_wait_timeout`) or a metadata lock
/// (`lock_wait_timeout`: `LOCK TABLES`, DDL, `RENAME TABLE`) waited too long.
const LOCK_WAIT_TIMEOUT: u16 = 1205;
/// MySQL's ER_QUERY_TIMEOUT (`max_execution_time`).
const MYSQL_QUERY_TIMEOUT: u16 = 3024;
/// MariaDB's ER_STATEMENT_TIMEOUT (`max_statement_time`).
const MARIADB_STATEMENT_TIMEOUT: u16 = 1969;

/// Whether `VERSION()` names MariaDB, whose statement limit differs from MySQL's.
pub(super) fn is_mariadb(version: &str) -> bool {
    version.to_ascii_lowercase().contains("mariadb")
}

/// Largest value both servers take for the lock waits (MySQL's `lock_wait_timeout`
/// maximum, one year).
const MAX_LOCK_SECONDS: u64 = 31_536_000;

/// The `SET SESSION` statement for `timeouts`, `None` when nothing is limited.
///
/// - Lock: `lock_wait_timeout` (metadata locks) and `innodb_lock_wait_timeout` (row
///   locks), whole seconds rounded up, at least 1.
/// - Statement (the source's reads): MariaDB `max_statement_time` in seconds (fractions
///   allowed); MySQL `max_execution_time` in milliseconds, which MySQL applies to
///   `SELECT` statements only, all a source runs.
pub(super) fn session_sql(timeouts: &Timeouts, mariadb: bool) -> Option<String> {
    let mut sets = Vec::new();
    if let Some(lock) = timeouts.lock {
        let s = whole_seconds(lock);
        sets.push(format!("lock_wait_timeout = {s}"));
        sets.push(format!("innodb_lock_wait_timeout = {s}"));
    }
    if let Some(statement) = timeouts.statement {
        if mariadb {
            let ms = millis(statement);
            sets.push(format!(
                "max_statement_time = {}.{:03}",
                ms / 1000,
                ms % 1000
            ));
        } else {
            sets.push(format!("max_execution_time = {}", millis(statement)));
        }
    }
    (!sets.is_empty()).then(|| format!("SET SESSION {}", sets.join(", ")))
}

fn whole_seconds(d: Duration) -> u64 {
    let s = d.as_secs() + u64::from(d.subsec_nanos() > 0);
    s.clamp(1, MAX_LOCK_SECONDS)
}

fn millis(d: Duration) -> u64 {
    let ms = d.as_millis() + u128::from(!d.as_nanos().is_multiple_of(1_000_000));
    u64::try_from(ms)
        .unwrap_or(u64::MAX)
        .clamp(1, u64::from(u32::MAX))
}

/// The key whose limit a server error reports reaching, if it is a timeout.
pub(crate) fn timeout_key(e: &mysql::Error) -> Option<&'static str> {
    match e {
        mysql::Error::MySqlError(m) => match m.code {
            LOCK_WAIT_TIMEOUT => Some(LOCK_KEY),
            MYSQL_QUERY_TIMEOUT | MARIADB_STATEMENT_TIMEOUT => Some(STATEMENT_KEY),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timeouts(statement: Option<f64>, lock: Option<f64>) -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(30),
            statement: statement.map(Duration::from_secs_f64),
            lock: lock.map(Duration::from_secs_f64),
        }
    }

    #[test]
    fn session_statements_per_server() {
        assert_eq!(session_sql(&timeouts(None, None), true), None);
        assert_eq!(
            session_sql(&timeouts(None, Some(60.0)), false).unwrap(),
            "SET SESSION lock_wait_timeout = 60, innodb_lock_wait_timeout = 60"
        );
        // Fractions round up; never 0 (which MySQL refuses for the lock waits).
        assert_eq!(
            session_sql(&timeouts(Some(2.5), Some(0.2)), true).unwrap(),
            "SET SESSION lock_wait_timeout = 1, innodb_lock_wait_timeout = 1, max_statement_time = 2.500"
        );
        assert_eq!(
            session_sql(&timeouts(Some(2.5), None), false).unwrap(),
            "SET SESSION max_execution_time = 2500"
        );
        assert_eq!(
            session_sql(&timeouts(Some(1e9), Some(1e9)), false).unwrap(),
            "SET SESSION lock_wait_timeout = 31536000, innodb_lock_wait_timeout = 31536000, max_execution_time = 4294967295"
        );
        assert!(is_mariadb("10.11.19-MariaDB-0+deb12u1"));
        assert!(!is_mariadb("8.0.36"));
    }

    #[test]
    fn timeout_errors_name_their_key() {
        let server = |code| {
            mysql::Error::MySqlError(mysql::MySqlError {
                state: "HY000".into(),
                message: "x".into(),
                code,
            })
        };
        assert_eq!(timeout_key(&server(1205)), Some(LOCK_KEY));
        assert_eq!(timeout_key(&server(3024)), Some(STATEMENT_KEY));
        assert_eq!(timeout_key(&server(1969)), Some(STATEMENT_KEY));
        assert_eq!(timeout_key(&server(1213)), None);
    }
}
