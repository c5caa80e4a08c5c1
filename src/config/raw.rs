//! The raw layer: every `[section] KEY` as text, with where it came from.
//!
//! INI values win over environment variables of the same name; an empty value counts
//! as unset. Section and key names are case-insensitive. Values are taken literally:
//! no `%` interpolation, no quote or escape processing, no inline comments — so a
//! password such as `p%w;"x` is read exactly as written.

use std::collections::BTreeMap;
use std::path::Path;

use crate::error::{Error, Result};

/// Where an effective setting came from, logged at start-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Ini,
    Env,
    Default,
    Cli,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Ini => "ini",
            Origin::Env => "env",
            Origin::Default => "default",
            Origin::Cli => "cli",
        }
    }
}

/// A raw value with its origin.
#[derive(Clone)]
pub struct RawValue {
    pub text: String,
    pub origin: Origin,
}

/// Looks up an environment variable; injected so tests need not touch the process environment.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// The INI file as `section (lowercase) -> KEY (uppercase) -> value`.
#[derive(Default, Clone)]
pub struct RawIni {
    sections: BTreeMap<String, BTreeMap<String, String>>,
}

impl RawIni {
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::config(format!(
                "cannot read the configuration file {}: {e}",
                path.display()
            ))
        })?;
        Self::parse(&text).map_err(|e| {
            Error::config(format!(
                "cannot parse the configuration file {}: {e}",
                path.display()
            ))
        })
    }

    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let options = ini::ParseOption {
            enabled_quote: false,
            enabled_escape: false,
            ..Default::default()
        };
        let parsed = ini::Ini::load_from_str_opt(text, options).map_err(|e| e.to_string())?;
        let mut sections: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for (section, props) in parsed.iter() {
            let section = section.unwrap_or("").trim().to_ascii_lowercase();
            let entry = sections.entry(section).or_default();
            for (key, value) in props.iter() {
                entry.insert(key.trim().to_ascii_uppercase(), value.trim().to_string());
            }
        }
        Ok(RawIni { sections })
    }

    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.sections
            .get(section)
            .and_then(|s| s.get(key))
            .map(String::as_str)
    }

    /// The sections whose (lowercase) name starts with `prefix`, with their keys.
    pub fn sections_with_prefix<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a BTreeMap<String, String>)> + 'a {
        self.sections
            .iter()
            .filter(move |(s, _)| s.starts_with(prefix))
            .map(|(s, p)| (s.as_str(), p))
    }

    /// Keys present in the file that the contract does not know, as `[section] KEY`
    /// (`[table:NAME]` sections are checked on their own).
    pub fn unknown_keys(&self, known: &[(&str, &str)]) -> Vec<String> {
        let mut out = Vec::new();
        for (section, props) in &self.sections {
            if section.starts_with(super::table_sections::TABLE_SECTION_PREFIX) {
                continue;
            }
            for key in props.keys() {
                if !known.iter().any(|(s, k)| s == section && k == key) {
                    out.push(format!("[{section}] {key}"));
                }
            }
        }
        out
    }
}

/// Resolves `[section] KEY` by the precedence INI > environment > default.
pub struct Resolver<'a> {
    pub ini: RawIni,
    pub env: EnvLookup<'a>,
}

impl Resolver<'_> {
    pub fn get(&self, section: &str, key: &str) -> Option<RawValue> {
        if let Some(v) = self.ini.get(section, key).filter(|v| !v.is_empty()) {
            return Some(RawValue {
                text: v.to_string(),
                origin: Origin::Ini,
            });
        }
        (self.env)(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .map(|text| RawValue {
                text,
                origin: Origin::Env,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_literal_and_keys_case_insensitive() {
        let ini = RawIni::parse("[Database-Source]\nsrc_password = p%w;\"x #y\n").unwrap();
        assert_eq!(
            ini.get("database-source", "SRC_PASSWORD"),
            Some("p%w;\"x #y")
        );
    }
}
