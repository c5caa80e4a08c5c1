//! The configuration contract's names: the INI sections, every known key, the
//! secret keys, and the defaults of unset values.

pub const SOURCE: &str = "database-source";
pub const DESTINATION: &str = "database-destination";
pub const SETTINGS: &str = "settings";
pub const LOGGING: &str = "logging";
pub const MONITORING: &str = "monitoring";
pub use super::archive::ARCHIVE;

/// Rows per batch and per Parquet part (upper bound).
pub const DEFAULT_CHUNK_SIZE: usize = 100_000;
/// Archive root.
pub const DEFAULT_OUTPUT_DIR: &str = "data";
/// Staging schema on server destinations.
pub const DEFAULT_DST_SCHEMA: &str = "staging";
/// SQLite staging database when `DST_DRIVER` is unset (the embedded default).
pub const DEFAULT_SQLITE_DST_DB: &str = "staging.sqlite";
/// DIRECT mode: retries per batch, transient errors only.
pub const DEFAULT_MAX_RETRIES: u32 = 3;
/// DIRECT mode: first backoff, seconds.
pub const DEFAULT_BACKOFF_BASE_SECONDS: f64 = 0.5;
/// DIRECT mode: backoff cap, seconds (jitter included).
pub const DEFAULT_BACKOFF_MAX_SECONDS: f64 = 8.0;
/// Log file when `LOG_TO_FILE` is on.
pub const DEFAULT_LOG_FILE: &str = "logs/stage.log";
/// Rotate the log file past this many bytes.
pub const DEFAULT_LOG_ROTATE_BYTES: u64 = 5_000_000;
/// Rotated log files kept.
pub const DEFAULT_LOG_BACKUP_COUNT: u32 = 3;
/// CONNECTORX mode: partitions per table when `PARTITION_COLUMN` is usable.
pub const DEFAULT_PARTITION_NUM: usize = 1;
/// PostgreSQL sources in DUMP and DIRECT: connections that read one table together.
pub const DEFAULT_READ_CONNECTIONS: usize = 1;
/// Tables in flight at once (`PARALLEL_TABLES`), and the most it accepts.
pub const DEFAULT_PARALLEL_TABLES: usize = 1;
pub const MAX_PARALLEL_TABLES: usize = 16;
/// `PARQUET_ENCODE_THREADS`: threads encoding one part's columns (1 = the calling thread),
/// and the most it accepts.
pub const DEFAULT_PARQUET_ENCODE_THREADS: usize = 1;
pub const MAX_PARQUET_ENCODE_THREADS: usize = 64;
/// `SHARD_MIN_ROWS`: a table estimated larger is split into key ranges by `stage plan --shards`.
pub const DEFAULT_SHARD_MIN_ROWS: usize = 5_000_000;
/// The most `READ_CONNECTIONS` accepts.
pub const MAX_READ_CONNECTIONS: usize = 16;

/// Every key of the contract, for start-up logging and unknown-key warnings.
pub(super) const KNOWN_KEYS: &[(&str, &str)] = &[
    (SOURCE, "SRC_DRIVER"),
    (SOURCE, "SRC_HOST"),
    (SOURCE, "SRC_PORT"),
    (SOURCE, "SRC_USERNAME"),
    (SOURCE, "SRC_PASSWORD"),
    (SOURCE, "SRC_DB"),
    (SOURCE, "SRC_SCHEMA"),
    (SOURCE, "SRC_URL"),
    (SOURCE, "SRC_ORACLE_SID"),
    (SOURCE, "SRC_ORACLE_TNS_ALIAS"),
    (SOURCE, "SRC_ORACLE_CLIENT_PATH"),
    (SOURCE, "SRC_ORACLE_NUMBER_SCALE"),
    (SOURCE, "SRC_MSSQL_TRUST_SERVER_CERTIFICATE"),
    (SOURCE, "SRC_MSSQL_ODBC_DRIVER"),
    (SOURCE, "SRC_MSSQL_ENCRYPT"),
    (SOURCE, "SRC_SSLMODE"),
    (SOURCE, "SRC_SSLROOTCERT"),
    (SOURCE, "SRC_SSLCERT"),
    (SOURCE, "SRC_SSLKEY"),
    (SOURCE, "SRC_CONNECT_TIMEOUT_SECONDS"),
    (DESTINATION, "DST_DRIVER"),
    (DESTINATION, "DST_HOST"),
    (DESTINATION, "DST_PORT"),
    (DESTINATION, "DST_USERNAME"),
    (DESTINATION, "DST_PASSWORD"),
    (DESTINATION, "DST_DB"),
    (DESTINATION, "DST_SCHEMA"),
    (DESTINATION, "DST_URL"),
    (DESTINATION, "DST_ADMIN_DB"),
    (DESTINATION, "DST_MSSQL_TRUST_SERVER_CERTIFICATE"),
    (DESTINATION, "DST_MSSQL_ODBC_DRIVER"),
    (DESTINATION, "DST_MSSQL_ENCRYPT"),
    (DESTINATION, "DST_SSLMODE"),
    (DESTINATION, "DST_SSLROOTCERT"),
    (DESTINATION, "DST_SSLCERT"),
    (DESTINATION, "DST_SSLKEY"),
    (DESTINATION, "DST_CONNECT_TIMEOUT_SECONDS"),
    (SETTINGS, "SRC_TABLES"),
    (SETTINGS, "SRC_CHUNK_SIZE"),
    (SETTINGS, "SRC_CHUNK_BYTES"),
    (SETTINGS, "TRANSFER_MODE"),
    (SETTINGS, "WRITE_MODE"),
    (SETTINGS, "OUTPUT_DIR"),
    (SETTINGS, "CLEANUP_PARQUET_FILES"),
    (SETTINGS, "ROW_LIMIT"),
    (SETTINGS, "PARQUET_COMPRESSION"),
    (SETTINGS, "DIRECT_MAX_RETRIES"),
    (SETTINGS, "DIRECT_BACKOFF_BASE_SECONDS"),
    (SETTINGS, "DIRECT_BACKOFF_MAX_SECONDS"),
    (SETTINGS, "ASK_PASSWORD_IN_CLI"),
    (SETTINGS, "LOG_ROW_COUNT"),
    (SETTINGS, "PARTITION_COLUMN"),
    (SETTINGS, "PARTITION_NUM"),
    (SETTINGS, "READ_CONNECTIONS"),
    (SETTINGS, "MYSQL_ZERO_DATES"),
    (SETTINGS, "LOCK_WAIT_SECONDS"),
    (SETTINGS, "STATEMENT_TIMEOUT_SECONDS"),
    (SETTINGS, "LOCK_TIMEOUT_SECONDS"),
    (SETTINGS, "SOURCE_MAX_RETRIES"),
    (SETTINGS, "PARALLEL_TABLES"),
    (SETTINGS, "PARQUET_ENCODE_THREADS"),
    (SETTINGS, "RUN_LOG"),
    (SETTINGS, "RUN_LOG_SCHEMA"),
    (SETTINGS, "SHARD_MIN_ROWS"),
    (SETTINGS, "SOURCE_MAX_CONNECTIONS"),
    (SETTINGS, "SYNC_MODE"),
    (SETTINGS, "INCREMENTAL_COLUMN"),
    (SETTINGS, "INCREMENTAL_SETTLE_SECONDS"),
    (SETTINGS, "INCREMENTAL_NULLS"),
    (SETTINGS, "PRIMARY_KEY"),
    (SETTINGS, "FULL_REFRESH_EVERY"),
    (SETTINGS, "SCHEMA_CHANGE"),
    (LOGGING, "LOG_LEVEL"),
    (LOGGING, "LOG_TO_FILE"),
    (LOGGING, "LOG_FILE"),
    (LOGGING, "LOG_ROTATE_BYTES"),
    (LOGGING, "LOG_BACKUP_COUNT"),
    (LOGGING, "LOG_FORMAT"),
    (MONITORING, "SUMMARY_JSON"),
    (MONITORING, "NOTIFY_URL"),
    (MONITORING, "NOTIFY_ON"),
    (MONITORING, "NOTIFY_COMMAND"),
    (MONITORING, "METRICS_FILE"),
    (ARCHIVE, "KEEP_RUNS"),
    (ARCHIVE, "KEEP_DAYS"),
    (ARCHIVE, "ORPHAN_GRACE_HOURS"),
    (ARCHIVE, "LOCK_STALE_SECONDS"),
    (ARCHIVE, "AWS_ACCESS_KEY_ID"),
    (ARCHIVE, "AWS_SECRET_ACCESS_KEY"),
    (ARCHIVE, "AWS_SESSION_TOKEN"),
    (ARCHIVE, "AWS_REGION"),
    (ARCHIVE, "AWS_DEFAULT_REGION"),
    (ARCHIVE, "AWS_ENDPOINT"),
    (ARCHIVE, "AWS_ENDPOINT_URL"),
    (ARCHIVE, "AWS_ALLOW_HTTP"),
    (ARCHIVE, "AWS_VIRTUAL_HOSTED_STYLE_REQUEST"),
    (ARCHIVE, "AWS_CONDITIONAL_PUT"),
    (ARCHIVE, "AZURE_STORAGE_ACCOUNT_NAME"),
    (ARCHIVE, "AZURE_STORAGE_ACCOUNT_KEY"),
    (ARCHIVE, "AZURE_STORAGE_SAS_TOKEN"),
    (ARCHIVE, "AZURE_STORAGE_USE_EMULATOR"),
    (ARCHIVE, "AZURE_STORAGE_ENDPOINT"),
    (ARCHIVE, "AZURE_CLIENT_ID"),
    (ARCHIVE, "AZURE_CLIENT_SECRET"),
    (ARCHIVE, "AZURE_TENANT_ID"),
    (ARCHIVE, "AZURE_ALLOW_HTTP"),
    (ARCHIVE, "GOOGLE_SERVICE_ACCOUNT"),
    (ARCHIVE, "GOOGLE_SERVICE_ACCOUNT_KEY"),
    (ARCHIVE, "GOOGLE_APPLICATION_CREDENTIALS"),
];

/// Keys whose effective values are shown as `***`.
pub(super) const SECRET_KEYS: &[&str] = &[
    "SRC_PASSWORD",
    "DST_PASSWORD",
    "SRC_URL",
    "DST_URL",
    "NOTIFY_URL",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
];

#[cfg(test)]
mod tests {
    use super::*;

    /// The parser finds a side's key by its suffix after `SRC_`/`DST_`: every key must be
    /// unique and carry its section's prefix.
    #[test]
    fn known_keys_are_unique_and_prefixed_by_their_section() {
        for (i, (section, key)) in KNOWN_KEYS.iter().enumerate() {
            assert!(
                !KNOWN_KEYS[..i].iter().any(|(_, k)| k == key),
                "{key} twice"
            );
            match *section {
                SOURCE => assert!(key.starts_with("SRC_"), "{key}"),
                DESTINATION => assert!(key.starts_with("DST_"), "{key}"),
                SETTINGS | LOGGING | MONITORING | ARCHIVE => {}
                other => panic!("unknown section {other}"),
            }
        }
        for key in super::super::archive::STORE_KEYS {
            assert!(KNOWN_KEYS.contains(&(ARCHIVE, key)), "{key}");
        }
        for key in super::super::archive::SECRET_STORE_KEYS {
            assert!(SECRET_KEYS.contains(key), "{key}");
        }
        for key in SECRET_KEYS {
            assert!(KNOWN_KEYS.iter().any(|(_, k)| k == key), "{key}");
        }
    }
}
