//! Oracle: what the connection names (TNS alias, SID or service → the connect string
//! ODPI-C receives), the client-library and transient-error classification, and the
//! catalog and select SQL. Compiled with or without the `oracle` cargo feature, so these
//! rules are always tested; the source (`source::oracle`) uses them.
//!
//! Names: Oracle stores unquoted names in upper case. A table listed as `orders` is looked
//! up as written first, then upper-cased (`ORDERS`); the same for `SRC_SCHEMA` (the owner,
//! default: the session's current schema). A table created with a quoted mixed-case name
//! is found by its exact spelling.

use crate::dialect::Dialect;

/// What the connection names, from `SRC_ORACLE_TNS_ALIAS`, `SRC_ORACLE_SID` or `SRC_DB`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectTarget {
    /// A `tnsnames.ora` alias, passed as it is.
    TnsAlias(String),
    Sid(String),
    Service(String),
}

/// Picks the target: a TNS alias wins, then a SID, then the service name in `SRC_DB`.
pub fn connect_target(
    tns_alias: Option<&str>,
    sid: Option<&str>,
    service: Option<&str>,
) -> Result<ConnectTarget, String> {
    if let Some(a) = tns_alias.filter(|s| !s.trim().is_empty()) {
        return Ok(ConnectTarget::TnsAlias(a.trim().to_string()));
    }
    if let Some(s) = sid.filter(|s| !s.trim().is_empty()) {
        return Ok(ConnectTarget::Sid(s.trim().to_string()));
    }
    if let Some(s) = service.filter(|s| !s.trim().is_empty()) {
        return Ok(ConnectTarget::Service(s.trim().to_string()));
    }
    Err("Oracle needs a service name in [database-source] SRC_DB, a SID in SRC_ORACLE_SID, or a TNS alias in SRC_ORACLE_TNS_ALIAS".into())
}

/// The connect string ODPI-C receives: the alias, a SID descriptor, or EZConnect.
pub fn connect_string(target: &ConnectTarget, host: &str, port: u16) -> String {
    match target {
        ConnectTarget::TnsAlias(a) => a.clone(),
        ConnectTarget::Sid(sid) => format!(
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST={host})(PORT={port}))(CONNECT_DATA=(SID={sid})))"
        ),
        ConnectTarget::Service(s) => {
            // IPv6 literals need brackets in EZConnect.
            if host.contains(':') && !host.starts_with('[') {
                format!("//[{host}]:{port}/{s}")
            } else {
                format!("//{host}:{port}/{s}")
            }
        }
    }
}

/// The one line shown when ODPI-C cannot load the Oracle client library (DPI-1047).
pub fn missing_client_message(client_path: Option<&std::path::Path>) -> String {
    match client_path {
        Some(p) => format!(
            "the Oracle client library (libclntsh) could not be loaded from {} (DPI-1047): install Oracle Instant Client Basic there, or correct [database-source] SRC_ORACLE_CLIENT_PATH",
            p.display()
        ),
        None => "the Oracle client library (libclntsh) could not be loaded (DPI-1047): install Oracle Instant Client Basic and set [database-source] SRC_ORACLE_CLIENT_PATH to its folder".into(),
    }
}

/// Whether a driver error text is ODPI-C's "cannot load the client library".
pub fn is_missing_client(error_text: &str) -> bool {
    error_text.contains("DPI-1047")
}

/// ORA- codes worth retrying: deadlock, resource busy, lost/broken connections.
pub const TRANSIENT_ORA: &[u32] = &[60, 54, 3113, 3114, 3135, 12_170, 12_541, 12_543, 12_571];

/// The catalog query: binds `:1` owner, `:2` table.
pub const CATALOG_SQL: &str =
    "SELECT COLUMN_NAME, DATA_TYPE, DATA_PRECISION, DATA_SCALE, CHAR_LENGTH, NULLABLE \
     FROM ALL_TAB_COLUMNS WHERE OWNER = :1 AND TABLE_NAME = :2 ORDER BY COLUMN_ID";

/// The session's schema, used when `SRC_SCHEMA` is unset.
pub const CURRENT_SCHEMA_SQL: &str = "SELECT SYS_CONTEXT('USERENV', 'CURRENT_SCHEMA') FROM DUAL";

/// The (owner, table) spellings tried against the catalog, in order: as written, then
/// upper-cased (Oracle's form of unquoted names).
pub fn lookup_candidates(owner: &str, table: &str) -> Vec<(String, String)> {
    let mut out = vec![(owner.to_string(), table.to_string())];
    let upper = (owner.to_uppercase(), table.to_uppercase());
    if !out.contains(&upper) {
        out.push(upper);
    }
    out
}

/// A select-list entry.
pub fn select_expr(column: &str, extract_utc: bool) -> String {
    let q = Dialect::Oracle.quote(column);
    if extract_utc {
        format!("SYS_EXTRACT_UTC({q}) AS {q}")
    } else {
        q
    }
}

/// `SELECT cols FROM "OWNER"."TABLE" [FETCH FIRST n ROWS ONLY]`.
pub fn select_sql(
    owner: &str,
    table: &str,
    exprs: &[String],
    row_limit: Option<u64>,
    filter: Option<&str>,
) -> String {
    let mut sql = format!(
        "SELECT {} FROM {}",
        exprs.join(", "),
        crate::dialect::filtered(Dialect::Oracle.qualify(Some(owner), table), filter)
    );
    if let Some(n) = row_limit {
        sql.push_str(&format!(" FETCH FIRST {n} ROWS ONLY"));
    }
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_strings() {
        let t = connect_target(None, None, Some("ORCLPDB1")).unwrap();
        assert_eq!(
            connect_string(&t, "db.example", 1521),
            "//db.example:1521/ORCLPDB1"
        );
        assert_eq!(connect_string(&t, "::1", 1522), "//[::1]:1522/ORCLPDB1");
        let t = connect_target(None, Some("ORCL"), Some("ignored")).unwrap();
        assert_eq!(
            connect_string(&t, "db.example", 1521),
            "(DESCRIPTION=(ADDRESS=(PROTOCOL=TCP)(HOST=db.example)(PORT=1521))(CONNECT_DATA=(SID=ORCL)))"
        );
        let t = connect_target(Some("PROD_RO"), Some("ORCL"), Some("x")).unwrap();
        assert_eq!(connect_string(&t, "ignored", 1), "PROD_RO");
        assert_eq!(
            connect_target(None, Some(" "), None).unwrap_err(),
            "Oracle needs a service name in [database-source] SRC_DB, a SID in SRC_ORACLE_SID, or a TNS alias in SRC_ORACLE_TNS_ALIAS"
        );
    }

    #[test]
    fn missing_client_is_one_clear_line() {
        let m = missing_client_message(None);
        assert_eq!(
            m,
            "the Oracle client library (libclntsh) could not be loaded (DPI-1047): install Oracle Instant Client Basic and set [database-source] SRC_ORACLE_CLIENT_PATH to its folder"
        );
        assert!(!m.contains('\n'));
        assert_eq!(
            missing_client_message(Some(std::path::Path::new("/opt/oracle/instantclient_23_5"))),
            "the Oracle client library (libclntsh) could not be loaded from /opt/oracle/instantclient_23_5 (DPI-1047): install Oracle Instant Client Basic there, or correct [database-source] SRC_ORACLE_CLIENT_PATH"
        );
        assert!(is_missing_client(
            "DPI-1047: Cannot locate a 64-bit Oracle Client library: \"libclntsh.so: cannot open shared object file\""
        ));
    }

    #[test]
    fn sql_and_names() {
        let exprs = vec![
            select_expr("ID", false),
            select_expr("Created \"At\"", true),
        ];
        assert_eq!(
            select_sql("APP", "ORDERS", &exprs, Some(10), None),
            "SELECT \"ID\", SYS_EXTRACT_UTC(\"Created \"\"At\"\"\") AS \"Created \"\"At\"\"\" FROM \"APP\".\"ORDERS\" FETCH FIRST 10 ROWS ONLY"
        );
        assert_eq!(
            select_sql("APP", "T", &exprs[..1], None, Some("\"N\" > 0")),
            "SELECT \"ID\" FROM (SELECT * FROM \"APP\".\"T\" WHERE \"N\" > 0) stage_filtered"
        );
        assert_eq!(
            lookup_candidates("app", "orders"),
            vec![
                ("app".to_string(), "orders".to_string()),
                ("APP".to_string(), "ORDERS".to_string())
            ]
        );
        assert_eq!(lookup_candidates("APP", "ORDERS").len(), 1);
    }
}
