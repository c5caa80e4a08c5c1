//! The database kinds `stage` speaks to ([`Driver`]) and what differs between them in SQL
//! text ([`Dialect`]): identifier quoting and literals. No SQL is ever built from an
//! unquoted user string. A leaf: imports nothing from the crate.

use std::fmt;

/// The database kinds `stage` speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Oracle,
    Mssql,
    Postgres,
    Mysql,
    Mariadb,
    Sqlite,
}

impl Driver {
    pub const ALLOWED: &'static str = "oracle, mssql, postgres, mysql, mariadb, sqlite";

    /// Accepts our names and SQLAlchemy-style values (`oracle+oracledb`, `mssql+pyodbc`,
    /// `postgresql+psycopg2`, `mysql+pymysql`, ...): the part before `+` decides.
    pub fn parse(text: &str) -> Option<Driver> {
        let base = text
            .split('+')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        Some(match base.as_str() {
            "oracle" => Driver::Oracle,
            "mssql" | "sqlserver" => Driver::Mssql,
            "postgres" | "postgresql" | "psycopg2" | "psycopg" => Driver::Postgres,
            "mysql" => Driver::Mysql,
            "mariadb" => Driver::Mariadb,
            "sqlite" | "sqlite3" => Driver::Sqlite,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Driver::Oracle => "oracle",
            Driver::Mssql => "mssql",
            Driver::Postgres => "postgres",
            Driver::Mysql => "mysql",
            Driver::Mariadb => "mariadb",
            Driver::Sqlite => "sqlite",
        }
    }

    pub fn default_port(self) -> Option<u16> {
        match self {
            Driver::Oracle => Some(1521),
            Driver::Mssql => Some(1433),
            Driver::Postgres => Some(5432),
            Driver::Mysql | Driver::Mariadb => Some(3306),
            Driver::Sqlite => None,
        }
    }
}

impl fmt::Display for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
    Mysql,
    Mssql,
    Oracle,
}

impl Dialect {
    pub fn of(driver: Driver) -> Dialect {
        match driver {
            Driver::Sqlite => Dialect::Sqlite,
            Driver::Postgres => Dialect::Postgres,
            Driver::Mysql | Driver::Mariadb => Dialect::Mysql,
            Driver::Mssql => Dialect::Mssql,
            Driver::Oracle => Dialect::Oracle,
        }
    }

    /// Quotes an identifier, doubling the closing quote character inside it.
    pub fn quote(self, ident: &str) -> String {
        let (open, close) = match self {
            Dialect::Sqlite | Dialect::Postgres | Dialect::Oracle => ('"', '"'),
            Dialect::Mysql => ('`', '`'),
            Dialect::Mssql => ('[', ']'),
        };
        let mut out = String::with_capacity(ident.len() + 2);
        out.push(open);
        for ch in ident.chars() {
            if ch == close {
                out.push(close);
            }
            out.push(ch);
        }
        out.push(close);
        out
    }

    /// `schema.table`, both quoted; just the table when there is no schema.
    pub fn qualify(self, schema: Option<&str>, table: &str) -> String {
        match schema {
            Some(s) => format!("{}.{}", self.quote(s), self.quote(table)),
            None => self.quote(table),
        }
    }

    /// A string literal, single quotes doubled (MySQL: backslashes too).
    pub fn quote_literal(self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2);
        if self == Dialect::Mssql {
            out.push('N');
        }
        out.push('\'');
        for ch in value.chars() {
            match ch {
                '\'' => out.push_str("''"),
                '\\' if self == Dialect::Mysql => out.push_str("\\\\"),
                c => out.push(c),
            }
        }
        out.push('\'');
        out
    }
}

/// The `FROM` target of a read: the table, or — with a `[table:NAME] WHERE` filter — the
/// table's filtered rows as a derived table (no `AS`, which Oracle refuses), so the select
/// list, the row limit and partition conditions work on it unchanged.
pub fn filtered(from: String, filter: Option<&str>) -> String {
    match filter {
        Some(f) => format!("(SELECT * FROM {from} WHERE {f}) stage_filtered"),
        None => from,
    }
}

#[cfg(test)]
mod tests {
    use super::{Dialect, Driver};

    #[test]
    fn drivers_parse_our_names_and_sqlalchemy_forms() {
        assert_eq!(Driver::parse("oracle+oracledb"), Some(Driver::Oracle));
        assert_eq!(
            Driver::parse(" PostgreSQL+psycopg2 "),
            Some(Driver::Postgres)
        );
        assert_eq!(Driver::parse("sqlserver"), Some(Driver::Mssql));
        assert_eq!(Driver::parse("mariadb"), Some(Driver::Mariadb));
        assert_eq!(Driver::parse("sqlite3"), Some(Driver::Sqlite));
        assert_eq!(Driver::parse("db2"), None);
        assert_eq!(Driver::Mariadb.to_string(), "mariadb");
        assert_eq!(Driver::Mssql.default_port(), Some(1433));
        assert_eq!(Driver::Sqlite.default_port(), None);
        assert_eq!(Dialect::of(Driver::Mariadb), Dialect::Mysql);
    }

    #[test]
    fn identifiers_are_quoted_per_dialect() {
        let name = r#"Odd "name]` x"#;
        assert_eq!(Dialect::Postgres.quote(name), r#""Odd ""name]` x""#);
        assert_eq!(Dialect::Mysql.quote(name), r#"`Odd "name]`` x`"#);
        assert_eq!(Dialect::Mssql.quote(name), r#"[Odd "name]]` x]"#);
        assert_eq!(
            Dialect::Postgres.qualify(Some("staging"), "T"),
            r#""staging"."T""#
        );
    }

    #[test]
    fn literals_escape_quotes() {
        assert_eq!(Dialect::Sqlite.quote_literal("it's"), "'it''s'");
        assert_eq!(Dialect::Mysql.quote_literal(r"a\'b"), r"'a\\''b'");
        assert_eq!(Dialect::Mssql.quote_literal("x"), "N'x'");
    }
}
