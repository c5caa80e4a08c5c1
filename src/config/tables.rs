//! The table list: `SRC_TABLES` split into names, and the staging table each one becomes
//! (names that would collide in staging are a configuration error).

use crate::error::{Error, Result};

/// Splits `SRC_TABLES` (or `--tables`); `what` names it in errors. A blank name, a name
/// listed twice and two names staged into the same table are errors.
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
        let staging = staging_name(name);
        if let Some(prev) = tables.iter().find(|t| staging_name(t) == staging) {
            return Err(Error::config(format!(
                "{what} = \"{text}\" is invalid: \"{prev}\" and \"{name}\" would both be staged into the table \"{staging}\"; stage one of them in a run with another DST_SCHEMA, or through a view with another name"
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
