//! The staging database a fault test runs against: PostgreSQL, MariaDB or SQLite, with
//! its INI section, its rows and the helper tables (shadows, retired tables) left in it.

use std::path::{Path, PathBuf};

use crate::support::{mariadb, pg};

/// A staging database of one of the three kinds the suite runs on.
#[derive(Clone)]
pub(super) enum Dest {
    Pg(String),
    Maria(String),
    Sqlite(PathBuf),
}

impl Dest {
    pub(super) fn new(kind: &str, dir: &Path) -> Dest {
        match kind {
            "postgres" => Dest::Pg(pg().create_database("fault_dst")),
            "mariadb" => Dest::Maria(mariadb().create_database("fault_dst")),
            _ => Dest::Sqlite(dir.join("staging.sqlite")),
        }
    }

    pub(super) fn section(&self) -> String {
        match self {
            Dest::Pg(db) => {
                let s = pg();
                format!(
                    "[database-destination]\nDST_DRIVER = postgres\nDST_HOST = {}\nDST_PORT = {}\nDST_USERNAME = {}\nDST_PASSWORD = {}\nDST_DB = {db}\nDST_SCHEMA = staging\n\n",
                    s.host, s.port, s.user, s.password
                )
            }
            Dest::Maria(db) => {
                let s = mariadb();
                format!(
                    "[database-destination]\nDST_DRIVER = mariadb\nDST_HOST = {}\nDST_PORT = {}\nDST_USERNAME = {}\nDST_PASSWORD = {}\nDST_DB = {db}\n\n",
                    s.host, s.port, s.user, s.password
                )
            }
            Dest::Sqlite(p) => format!(
                "[database-destination]\nDST_DRIVER = sqlite\nDST_DB = {}\n\n",
                p.display()
            ),
        }
    }

    /// `id|name` of every row, sorted; `None` when the table does not exist.
    pub(super) fn rows(&self, table: &str) -> Option<Vec<String>> {
        let sql = format!("SELECT id, name FROM {} ORDER BY id", self.quoted(table));
        let mut out: Vec<String> = match self {
            Dest::Pg(db) => {
                let mut c = pg().client(db);
                let rows = c.query(&sql, &[]).ok()?;
                rows.iter()
                    .map(|r| format!("{}|{}", r.get::<_, i64>(0), r.get::<_, String>(1)))
                    .collect()
            }
            Dest::Maria(db) => mariadb()
                .try_query(Some(db), &sql)
                .ok()?
                .lines()
                .map(|l| l.replace('\t', "|"))
                .collect(),
            Dest::Sqlite(p) => {
                let c = rusqlite::Connection::open(p).ok()?;
                let mut stmt = c.prepare(&sql).ok()?;
                let rows = stmt
                    .query_map([], |r| {
                        Ok(format!(
                            "{}|{}",
                            r.get::<_, i64>(0)?,
                            r.get::<_, String>(1)?
                        ))
                    })
                    .ok()?;
                rows.map(|r| r.unwrap()).collect()
            }
        };
        out.sort();
        Some(out)
    }

    fn quoted(&self, table: &str) -> String {
        match self {
            Dest::Pg(_) => format!("staging.\"{table}\""),
            Dest::Maria(_) => format!("`{table}`"),
            Dest::Sqlite(_) => format!("\"{table}\""),
        }
    }

    /// Names of helper tables (shadows, retired tables) in the staging schema.
    pub(super) fn helpers(&self) -> Vec<String> {
        let like = "'%\\_\\_stage\\_%'";
        match self {
            Dest::Pg(db) => pg()
                .client(db)
                .query(
                    &format!("SELECT relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'staging' AND relname LIKE {like}"),
                    &[],
                )
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect(),
            Dest::Maria(db) => mariadb()
                .query(
                    None,
                    &format!("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' AND TABLE_NAME LIKE {like}"),
                )
                .lines()
                .map(str::to_string)
                .collect(),
            Dest::Sqlite(p) => {
                let Ok(c) = rusqlite::Connection::open(p) else {
                    return Vec::new();
                };
                let mut stmt = c
                    .prepare(&format!("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE {like} ESCAPE '\\'"))
                    .unwrap();
                let names = stmt.query_map([], |r| r.get::<_, String>(0)).unwrap();
                names.map(|r| r.unwrap()).collect()
            }
        }
    }
}
