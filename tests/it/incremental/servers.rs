//! PostgreSQL and MariaDB sides of the incremental tests: one database each on the
//! harness's throwaway servers, the INI sections naming them, and their rows as text in a
//! form both databases print alike (so a cross pair compares too).

use crate::support::{mariadb, pg};

#[derive(Clone)]
pub enum Db {
    Pg(String),
    Maria(String),
}

impl Db {
    pub fn pg(prefix: &str) -> Db {
        Db::Pg(pg().create_database(prefix))
    }

    pub fn maria(prefix: &str) -> Db {
        Db::Maria(mariadb().create_database(prefix))
    }

    pub fn exec(&self, sql: &str) {
        match self {
            Db::Pg(db) => pg()
                .client(db)
                .batch_execute(sql)
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Db::Maria(db) => {
                mariadb().query(Some(db), sql);
            }
        }
    }

    /// The rows of `sql`, each row's columns joined by `|` (NULL as `NULL`), sorted.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        let mut out: Vec<String> = match self {
            Db::Pg(db) => pg()
                .client(db)
                // Staging tables and the run log live in the `staging` schema.
                .simple_query(&format!("SET search_path TO staging, public; {sql}"))
                .unwrap_or_else(|e| panic!("{sql}: {e}"))
                .into_iter()
                .filter_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => Some(
                        (0..r.len())
                            .map(|i| r.get(i).unwrap_or("NULL").to_string())
                            .collect::<Vec<_>>()
                            .join("|"),
                    ),
                    _ => None,
                })
                .collect(),
            Db::Maria(db) => mariadb()
                .query(Some(db), sql)
                .lines()
                .map(|l| l.replace('\t', "|"))
                .collect(),
        };
        out.sort();
        out
    }

    /// `id|name|updated_at` with microseconds, in both databases' spelling.
    pub fn items(&self) -> Vec<String> {
        match self {
            Db::Pg(_) => self.rows(
                "SELECT id, name, to_char(updated_at, 'YYYY-MM-DD HH24:MI:SS.US') FROM items",
            ),
            Db::Maria(_) => self.rows(
                "SELECT id, name, DATE_FORMAT(updated_at, '%Y-%m-%d %H:%i:%s.%f') FROM items",
            ),
        }
    }

    /// A connection section: `SRC` for the source, `DST` for the destination.
    pub fn section(&self, prefix: &str) -> String {
        let (driver, host, port, user, password, db) = match self {
            Db::Pg(db) => {
                let s = pg();
                (
                    "postgres",
                    s.host.clone(),
                    s.port,
                    s.user.clone(),
                    s.password.clone(),
                    db,
                )
            }
            Db::Maria(db) => {
                let s = mariadb();
                (
                    "mariadb",
                    s.host.clone(),
                    s.port,
                    s.user.clone(),
                    s.password.clone(),
                    db,
                )
            }
        };
        let name = if prefix == "SRC" {
            "database-source"
        } else {
            "database-destination"
        };
        format!(
            "[{name}]\n{prefix}_DRIVER = {driver}\n{prefix}_HOST = {host}\n{prefix}_PORT = {port}\n{prefix}_USERNAME = {user}\n{prefix}_PASSWORD = {password}\n{prefix}_DB = {db}\n\n"
        )
    }

    /// `items`' stored watermark in the destination's `sync_metadata`.
    pub fn watermark(&self) -> Vec<String> {
        self.rows("SELECT watermark FROM sync_metadata WHERE table_name = 'items'")
    }

    /// The clock the window's upper bound uses, as a SQL expression of a cursor value.
    pub fn now(&self) -> &'static str {
        match self {
            Db::Pg(_) => "clock_timestamp()::timestamp",
            Db::Maria(_) => "UTC_TIMESTAMP(6)",
        }
    }

    pub fn ts_type(&self) -> &'static str {
        match self {
            Db::Pg(_) => "timestamp(6)",
            Db::Maria(_) => "DATETIME(6)",
        }
    }
}
