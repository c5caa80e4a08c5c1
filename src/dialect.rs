//! One enum for what differs between databases in SQL text: identifier quoting and
//! literals. No SQL is ever built from an unquoted user string.

use crate::config::Driver;

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

#[cfg(test)]
mod tests {
    use super::Dialect;

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
