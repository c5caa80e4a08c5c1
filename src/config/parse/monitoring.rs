//! The parser's `[monitoring]` section: where the run's summary, notification and metrics go.

use std::path::PathBuf;

use super::Parser;
use crate::config::keys::MONITORING;
use crate::config::model::{Monitoring, NotifyOn};
use crate::config::Secret;
use crate::error::Result;

impl Parser<'_> {
    pub(in crate::config) fn monitoring(&mut self) -> Result<Monitoring> {
        let summary_json = self.string(MONITORING, "SUMMARY_JSON").map(PathBuf::from);
        let notify_url = self.string(MONITORING, "NOTIFY_URL").map(Secret::new);
        let notify_on = self.parsed(
            MONITORING,
            "NOTIFY_ON",
            NotifyOn::Failure,
            "failure or always",
            NotifyOn::parse,
        )?;
        self.default_shown("NOTIFY_ON", "failure");
        let notify_command = self.string(MONITORING, "NOTIFY_COMMAND");
        let metrics_file = self.string(MONITORING, "METRICS_FILE").map(PathBuf::from);
        Ok(Monitoring {
            summary_json,
            notify_url,
            notify_on,
            notify_command,
            metrics_file,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{no_env, parser, shown};
    use super::*;
    use crate::config::Origin;

    #[test]
    fn monitoring_keys_parse_and_the_url_is_a_secret() {
        let mut p = parser(
            "[monitoring]\nSUMMARY_JSON = out/summary.json\nNOTIFY_URL = https://hooks.example/T0K3N\nNOTIFY_ON = Always\nMETRICS_FILE = /var/lib/node_exporter/stage.prom\n",
            &no_env,
        );
        let m = p.monitoring().unwrap();
        assert_eq!(m.summary_json, Some(PathBuf::from("out/summary.json")));
        assert_eq!(m.notify_on, NotifyOn::Always);
        assert_eq!(
            m.notify_url.as_ref().map(Secret::expose),
            Some("https://hooks.example/T0K3N")
        );
        assert_eq!(shown(&p, "NOTIFY_URL"), ("***".into(), Origin::Ini));
        assert!(!format!("{m:?}").contains("T0K3N"));
        let mut p = parser("[monitoring]\nNOTIFY_ON = sometimes\n", &no_env);
        assert_eq!(
            p.monitoring().unwrap_err().to_string(),
            "[monitoring] NOTIFY_ON = \"sometimes\" is invalid: expected failure or always"
        );
    }
}
