//! The table list: `SRC_TABLES` split into names, and the staging table each one becomes.

use crate::error::{Error, Result};

/// Splits `SRC_TABLES` (or `--tables`); `what` names it in errors. A blank name and a name
/// listed twice are errors (two names staged into one table are checked once the
/// `[table:NAME]` sections are known: `table_sections::check_staging_names`).
pub(super) fn parse_tables(text: &str, what: &str) -> Result<Vec<String>> {
    let mut tables: Vec<String> = Vec::new();
    for (i, name) in text.split(',').map(str::trim).enumerate() {
        if name.is_empty() {
            return Err(Error::config(format!(
                "{what} = \"{text}\" is invalid: table name {} is blank",
                i + 1
            )));
        }
        if let Some(prev) = tables.iter().find(|t| t.eq_ignore_ascii_case(name)) {
            return Err(Error::config(format!(
                "{what} = \"{text}\" is invalid: \"{name}\" is listed twice (as \"{prev}\"); staging names are lowercase, so names that differ only in case collide"
            )));
        }
        tables.push(name.to_string());
    }
    Ok(tables)
}

/// The staging table of a table as listed in `SRC_TABLES`: its name without the schema
/// part, lowercased.
pub fn staging_name(listed: &str) -> String {
    match listed.rsplit_once('.') {
        Some((schema, name)) if !schema.is_empty() && !name.is_empty() => name.to_lowercase(),
        _ => listed.to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(text: &str) -> String {
        parse_tables(text, "[settings] SRC_TABLES")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn names_are_trimmed_and_kept_as_written_in_order() {
        assert_eq!(
            parse_tables(" Orders , app.Lines,x ", "--tables").unwrap(),
            ["Orders", "app.Lines", "x"]
        );
    }

    #[test]
    fn blank_and_twice_listed_names_are_errors() {
        assert_eq!(
            message("a,,b"),
            "[settings] SRC_TABLES = \"a,,b\" is invalid: table name 2 is blank"
        );
        assert_eq!(
            message("Orders,orders"),
            "[settings] SRC_TABLES = \"Orders,orders\" is invalid: \"orders\" is listed twice (as \"Orders\"); staging names are lowercase, so names that differ only in case collide"
        );
    }

    #[test]
    fn staging_names_drop_the_schema_and_lowercase() {
        assert_eq!(staging_name("Orders"), "orders");
        assert_eq!(staging_name("Sales.Orders"), "orders");
        assert_eq!(staging_name("db.sales.Orders"), "orders");
        // A dot at either end is part of the name, not a schema separator.
        assert_eq!(staging_name(".Orders"), ".orders");
        assert_eq!(staging_name("Orders."), "orders.");
    }
}
