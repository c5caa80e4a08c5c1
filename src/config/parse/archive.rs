//! The parser's `[archive]` section (see [`crate::config::Archive`]) and the check of
//! `[settings] OUTPUT_DIR`'s scheme.

use super::{invalid, Parser};
use crate::config::archive::{
    Archive, StoreKind, ARCHIVE, DEFAULT_LOCK_STALE_SECONDS, DEFAULT_ORPHAN_GRACE_HOURS, STORE_KEYS,
};
use crate::config::keys::SETTINGS;
use crate::config::raw::Origin;
use crate::config::Secret;
use crate::error::{Error, Result};

impl Parser<'_> {
    pub(in crate::config) fn archive(&mut self, output_dir: &str) -> Result<Archive> {
        if let Err(why) = StoreKind::of(output_dir) {
            let from_env = self
                .effective
                .iter()
                .any(|e| e.key == "OUTPUT_DIR" && e.origin == Origin::Env);
            let from = if from_env {
                " (from the environment)"
            } else {
                ""
            };
            return Err(Error::config(format!(
                "[{SETTINGS}] OUTPUT_DIR = \"{output_dir}\"{from} is invalid: {why}"
            )));
        }
        let keep_runs = self.parsed(
            ARCHIVE,
            "KEEP_RUNS",
            None,
            "a whole number ≥ 1 (unset keeps every run)",
            |s| s.parse::<usize>().ok().filter(|n| *n >= 1).map(Some),
        )?;
        let keep_days = self.parsed(
            ARCHIVE,
            "KEEP_DAYS",
            None,
            "a number of days > 0 (unset keeps every run)",
            |s| {
                s.parse::<f64>()
                    .ok()
                    .filter(|d| d.is_finite() && *d > 0.0)
                    .map(Some)
            },
        )?;
        let orphan_grace_hours = self.parsed(
            ARCHIVE,
            "ORPHAN_GRACE_HOURS",
            DEFAULT_ORPHAN_GRACE_HOURS,
            "a number of hours ≥ 0",
            |s| s.parse::<f64>().ok().filter(|h| h.is_finite() && *h >= 0.0),
        )?;
        self.default_shown("ORPHAN_GRACE_HOURS", DEFAULT_ORPHAN_GRACE_HOURS);
        let lock_stale_seconds = self.parsed(
            ARCHIVE,
            "LOCK_STALE_SECONDS",
            DEFAULT_LOCK_STALE_SECONDS,
            "a number of seconds ≥ 3",
            |s| s.parse::<f64>().ok().filter(|h| h.is_finite() && *h >= 3.0),
        )?;
        self.default_shown("LOCK_STALE_SECONDS", DEFAULT_LOCK_STALE_SECONDS);
        let mut store_options = Vec::new();
        for key in STORE_KEYS {
            if let Some(v) = self.raw(ARCHIVE, key) {
                let boolean = key.ends_with("ALLOW_HTTP") || key.ends_with("USE_EMULATOR");
                if boolean && super::parse_bool(&v.text).is_none() {
                    return Err(invalid(ARCHIVE, key, &v, "true or false"));
                }
                store_options.push((*key, Secret::new(v.text)));
            }
        }
        Ok(Archive {
            keep_runs,
            keep_days,
            orphan_grace_hours,
            lock_stale_seconds,
            store_options,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{no_env, parser, shown};
    use super::*;

    #[test]
    fn archive_keys_parse_and_secrets_are_redacted() {
        let env = |k: &str| match k {
            "AWS_REGION" => Some("eu-west-1".to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some("from-env".to_string()),
            _ => None,
        };
        let mut p = parser(
            "[archive]\nKEEP_RUNS = 3\nKEEP_DAYS = 30\nAWS_ACCESS_KEY_ID = AKIA1\nAWS_SECRET_ACCESS_KEY = s3cr3t-ini\nAZURE_STORAGE_USE_EMULATOR = true\n",
            &env,
        );
        let a = p.archive("/tmp/x").unwrap();
        assert_eq!(a.keep_runs, Some(3));
        assert_eq!(a.keep_days, Some(30.0));
        assert_eq!(a.orphan_grace_hours, DEFAULT_ORPHAN_GRACE_HOURS);
        let get = |k: &str| {
            a.store_options
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.expose().to_string())
        };
        assert_eq!(get("AWS_SECRET_ACCESS_KEY").as_deref(), Some("s3cr3t-ini"));
        assert_eq!(get("AWS_REGION").as_deref(), Some("eu-west-1"));
        assert_eq!(
            shown(&p, "AWS_SECRET_ACCESS_KEY"),
            ("***".into(), Origin::Ini)
        );
        assert_eq!(
            shown(&p, "AWS_ACCESS_KEY_ID"),
            ("AKIA1".into(), Origin::Ini)
        );
        assert!(!format!("{a:?}").contains("s3cr3t"));
        let mut p = parser("[archive]\nKEEP_RUNS = 0\n", &no_env);
        assert_eq!(
            p.archive("data").unwrap_err().to_string(),
            "[archive] KEEP_RUNS = \"0\" is invalid: expected a whole number ≥ 1 (unset keeps every run)"
        );
        let mut p = parser("[archive]\nAWS_ALLOW_HTTP = maybe\n", &no_env);
        assert!(p
            .archive("data")
            .unwrap_err()
            .to_string()
            .starts_with("[archive] AWS_ALLOW_HTTP = \"maybe\" is invalid"));
    }

    #[test]
    fn output_dir_schemes() {
        assert_eq!(StoreKind::of("data").unwrap(), StoreKind::Local);
        assert_eq!(StoreKind::of("file:///tmp/a").unwrap(), StoreKind::Local);
        let e = StoreKind::of("ftp://host/x").unwrap_err();
        assert!(e.contains("ftp:// scheme is not supported"), "{e}");
        let e = StoreKind::of("s3:///x").unwrap_err();
        assert!(e.contains("the bucket is missing"), "{e}");
        for url in [
            "s3://b/p",
            "az://c/p",
            "abfss://c@acct.dfs.core.windows.net/p",
            "gs://b/p",
        ] {
            let cloud = cfg!(feature = "cloud");
            match StoreKind::of(url) {
                Ok(k) => assert!(cloud && k != StoreKind::Local, "{url}"),
                Err(e) => assert!(!cloud && e.contains("cargo feature `cloud`"), "{e}"),
            }
        }
        let mut p = parser("[settings]\nOUTPUT_DIR = gs://bucket/x\n", &no_env);
        let s = p.settings(false).unwrap();
        let r = p.archive(&s.output_dir);
        if !cfg!(feature = "cloud") {
            assert!(r
                .unwrap_err()
                .to_string()
                .starts_with("[settings] OUTPUT_DIR = \"gs://bucket/x\" is invalid: this build of stage has no object-store support"));
        }
    }
}
