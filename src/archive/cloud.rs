//! Object stores behind `OUTPUT_DIR = s3://…`, `az://…` (`abfs[s]://…`) and `gs://…`
//! (cargo feature `cloud`): object_store's builders from the standard environment
//! variables, then the `[archive]` keys of the same names on top.

use std::sync::Arc;

use object_store::multipart::MultipartStore;
use object_store::ObjectStore;

use crate::config::{Archive, StoreKind};
use crate::error::{Error, Result};

/// One store, as the two object_store traits the archive uses.
pub struct Opened {
    pub store: Arc<dyn ObjectStore>,
    pub multipart: Arc<dyn MultipartStore>,
    /// The folder inside the bucket (`""` at its root), without slashes at either end.
    pub prefix: String,
    /// Bucket and endpoint, for the log; never a credential.
    pub shown: String,
}

/// The prefix of `s3://bucket/a/b/` : `a/b`.
#[cfg(any(feature = "cloud", test))]
fn prefix_of(url: &url::Url) -> String {
    url.path().trim_matches('/').to_string()
}

#[cfg(feature = "cloud")]
pub fn open(kind: StoreKind, output_dir: &str, archive: &Archive) -> Result<Opened> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    use std::str::FromStr;

    let url = url::Url::parse(output_dir).map_err(|e| {
        Error::config(format!(
            "[settings] OUTPUT_DIR = \"{output_dir}\" is invalid: not a URL ({e})"
        ))
    })?;
    let prefix = prefix_of(&url);
    let bad = |key: &str| {
        Error::config(format!(
            "[archive] {key} does not apply to the {} store of OUTPUT_DIR = \"{output_dir}\"",
            url.scheme()
        ))
    };
    let options = |p: &'static str| {
        archive
            .store_options
            .iter()
            .filter(move |(k, _)| k.starts_with(p))
    };
    let built = |e: object_store::Error| {
        Error::config(format!(
            "[settings] OUTPUT_DIR = \"{output_dir}\": cannot open the object store: {e}"
        ))
    };
    match kind {
        StoreKind::S3 => {
            let mut b = AmazonS3Builder::from_env().with_url(output_dir);
            for (k, v) in options("AWS_") {
                let key =
                    AmazonS3ConfigKey::from_str(&k.to_ascii_lowercase()).map_err(|_| bad(k))?;
                b = b.with_config(key, v.expose());
            }
            let endpoint = b
                .get_config_value(&AmazonS3ConfigKey::Endpoint)
                .unwrap_or_else(|| "AWS".into());
            let s = Arc::new(b.build().map_err(built)?);
            Ok(Opened {
                store: s.clone(),
                multipart: s,
                prefix,
                shown: format!("S3 bucket {} at {endpoint}", url.host_str().unwrap_or("")),
            })
        }
        StoreKind::Azure => {
            let mut b = MicrosoftAzureBuilder::from_env().with_url(output_dir);
            for (k, v) in options("AZURE_") {
                let key = AzureConfigKey::from_str(&k.to_ascii_lowercase()).map_err(|_| bad(k))?;
                b = b.with_config(key, v.expose());
            }
            let account = b
                .get_config_value(&AzureConfigKey::AccountName)
                .unwrap_or_default();
            let s = Arc::new(b.build().map_err(built)?);
            Ok(Opened {
                store: s.clone(),
                multipart: s,
                prefix,
                shown: format!("Azure account {account}"),
            })
        }
        StoreKind::Gcs => {
            let mut b = GoogleCloudStorageBuilder::from_env().with_url(output_dir);
            for (k, v) in options("GOOGLE_") {
                let key = GoogleConfigKey::from_str(&k.to_ascii_lowercase()).map_err(|_| bad(k))?;
                b = b.with_config(key, v.expose());
            }
            let s = Arc::new(b.build().map_err(built)?);
            Ok(Opened {
                store: s.clone(),
                multipart: s,
                prefix,
                shown: format!("GCS bucket {}", url.host_str().unwrap_or("")),
            })
        }
        StoreKind::Local => unreachable!("local stores are opened by Store::open"),
    }
}

#[cfg(not(feature = "cloud"))]
pub fn open(_kind: StoreKind, output_dir: &str, _archive: &Archive) -> Result<Opened> {
    // Config parsing refuses these URLs first; this covers `stage load --manifest URL`.
    Err(Error::config(format!(
        "[settings] OUTPUT_DIR = \"{output_dir}\" is invalid: this build of stage has no object-store support: build stage with the cargo feature `cloud`"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `[archive]` store key is a key of its store's builder.
    #[cfg(feature = "cloud")]
    #[test]
    fn every_store_key_is_known_to_its_builder() {
        use object_store::aws::AmazonS3ConfigKey;
        use object_store::azure::AzureConfigKey;
        use object_store::gcp::GoogleConfigKey;
        use std::str::FromStr;
        for key in crate::config::archive_store_keys() {
            let k = key.to_ascii_lowercase();
            let known = if key.starts_with("AWS_") {
                AmazonS3ConfigKey::from_str(&k).is_ok()
            } else if key.starts_with("AZURE_") {
                AzureConfigKey::from_str(&k).is_ok()
            } else {
                GoogleConfigKey::from_str(&k).is_ok()
            };
            assert!(known, "{key}");
        }
    }

    #[test]
    fn prefixes() {
        let p = |u: &str| prefix_of(&url::Url::parse(u).unwrap());
        assert_eq!(p("s3://b"), "");
        assert_eq!(p("s3://b/"), "");
        assert_eq!(p("s3://b/a/b/"), "a/b");
        assert_eq!(p("abfss://fs@acct.dfs.core.windows.net/x"), "x");
    }
}
