//! `[archive]`: where the archive lives (the scheme of `[settings] OUTPUT_DIR`), the object
//! store's credentials and endpoint, and how long runs are kept.
//!
//! The store keys carry the names of the standard environment variables (`AWS_*`,
//! `AZURE_*`, `GOOGLE_*`): a value in `[archive]` wins over the variable, which object_store
//! reads anyway. Secret ones are held in [`Secret`] and shown as `***`.

use super::Secret;

pub const ARCHIVE: &str = "archive";

/// Default `[archive] ORPHAN_GRACE_HOURS`: how old a run folder without a manifest must be
/// before `stage prune` removes it.
pub const DEFAULT_ORPHAN_GRACE_HOURS: f64 = 24.0;
/// Default `[archive] LOCK_STALE_SECONDS`: a run on an object store refreshes its lock object
/// every third of this; a lock older than this belongs to a killed run.
pub const DEFAULT_LOCK_STALE_SECONDS: f64 = 300.0;

/// The object store keys `[archive]` accepts (the environment variables' names).
pub const STORE_KEYS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT",
    "AWS_ENDPOINT_URL",
    "AWS_ALLOW_HTTP",
    "AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
    "AWS_CONDITIONAL_PUT",
    "AZURE_STORAGE_ACCOUNT_NAME",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_STORAGE_USE_EMULATOR",
    "AZURE_STORAGE_ENDPOINT",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_ALLOW_HTTP",
    "GOOGLE_SERVICE_ACCOUNT",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
];

/// Store keys whose values are secrets (keys.rs lists them in `SECRET_KEYS`; checked there).
#[cfg(test)]
pub const SECRET_STORE_KEYS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_ACCOUNT_KEY",
    "AZURE_STORAGE_SAS_TOKEN",
    "AZURE_CLIENT_SECRET",
    "GOOGLE_SERVICE_ACCOUNT_KEY",
];

/// The archive's settings. `Debug` shows no secret.
#[derive(Debug, Clone, Default)]
pub struct Archive {
    /// `KEEP_RUNS`: after a successful run, keep this many newest committed runs.
    pub keep_runs: Option<usize>,
    /// `KEEP_DAYS`: after a successful run, drop committed runs older than this many days.
    pub keep_days: Option<f64>,
    /// `ORPHAN_GRACE_HOURS`: run folders without a manifest older than this are removed by
    /// `stage prune` (killed runs).
    pub orphan_grace_hours: f64,
    /// `LOCK_STALE_SECONDS`: see [`DEFAULT_LOCK_STALE_SECONDS`].
    pub lock_stale_seconds: f64,
    /// Store keys set in `[archive]` or the environment, by their variable name.
    pub store_options: Vec<(&'static str, Secret)>,
}

impl Archive {
    /// Whether a successful run prunes after its commit.
    pub fn retention_set(&self) -> bool {
        self.keep_runs.is_some() || self.keep_days.is_some()
    }
}

/// The object store a `OUTPUT_DIR` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Local,
    S3,
    Azure,
    Gcs,
}

impl StoreKind {
    /// The kind of `output_dir`, or what is wrong with its scheme.
    pub fn of(output_dir: &str) -> std::result::Result<StoreKind, String> {
        let Some((scheme, rest)) = output_dir.split_once("://") else {
            return Ok(StoreKind::Local);
        };
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "file" => return Ok(StoreKind::Local),
            "s3" | "s3a" => StoreKind::S3,
            "az" | "azure" | "abfs" | "abfss" | "adl" => StoreKind::Azure,
            "gs" => StoreKind::Gcs,
            other => {
                return Err(format!(
                    "expected a local path, file://, s3://, az:// (abfs://) or gs:// — the {other}:// scheme is not supported"
                ))
            }
        };
        let bucket = rest.split('/').next().unwrap_or("");
        if bucket.is_empty() {
            return Err(format!(
                "expected {scheme}://<bucket or container>/<prefix>: the bucket is missing"
            ));
        }
        if !cfg!(feature = "cloud") {
            return Err(format!(
                "this build of stage has no object-store support: the {scheme}:// store needs stage built with the cargo feature `cloud` (cargo build --features cloud)"
            ));
        }
        Ok(kind)
    }
}
