//! A throwaway Azure Blob Storage: Azurite (npm `azurite`, installed by
//! `scripts/install-test-deps.sh` under `~/.cache/stage/azurite`), blob service only, on a
//! free port of 127.0.0.1, with a container per test (created with the Python SDK
//! `azure-storage-blob` of the test environment: object_store cannot create containers).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use super::s3::{python, start_listening};
use super::{free_port, make_temp_dir, unique_name, Registration, INSTALL_HINT};

/// Azurite's well-known development account.
pub const ACCOUNT: &str = "devstoreaccount1";
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

pub struct Azurite {
    /// `http://127.0.0.1:<port>` (the account is the first path segment).
    pub url: String,
    _registration: Registration,
}

fn azurite_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("STAGE_TEST_AZURITE") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/stage/azurite/node_modules/.bin/azurite-blob")
}

pub fn azurite() -> &'static Azurite {
    static SHARED: OnceLock<Result<Azurite, String>> = OnceLock::new();
    match SHARED.get_or_init(Azurite::try_start) {
        Ok(s) => s,
        Err(m) => panic!("{m}"),
    }
}

impl Azurite {
    fn try_start() -> Result<Azurite, String> {
        let bin = azurite_bin();
        if !bin.exists() {
            return Err(format!(
                "no azurite-blob at {}: {INSTALL_HINT}",
                bin.display()
            ));
        }
        let dir = make_temp_dir("azurite", None)?;
        let port = free_port()?;
        let mut cmd = Command::new(&bin);
        cmd.args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string()])
            .arg("--location")
            .arg(dir.join("data"))
            .args(["--skipApiVersionCheck", "--silent"]);
        let log = dir.join("azurite.log");
        let registration = start_listening("Azurite", &dir, cmd, port, &log)?;
        Ok(Azurite {
            url: format!("http://127.0.0.1:{port}"),
            _registration: registration,
        })
    }

    fn connection_string(&self) -> String {
        format!(
            "DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={}/{ACCOUNT};",
            self.url
        )
    }

    /// Runs Python with `svc` (a BlobServiceClient of this server); `sys.argv[1..]` = `args`.
    pub fn py(&self, code: &str, args: &[&str]) -> String {
        let prelude = "import sys\nfrom azure.storage.blob import BlobServiceClient\nsvc = BlobServiceClient.from_connection_string(sys.argv[1])\n";
        let cs = self.connection_string();
        let mut all = vec![cs.as_str()];
        all.extend_from_slice(args);
        python(&format!("{prelude}{code}"), &all)
    }

    /// Creates a fresh container; returns its name.
    pub fn container(&self, prefix: &str) -> String {
        let name = unique_name(prefix).replace('_', "-");
        self.py("svc.create_container(sys.argv[2])", &[&name]);
        name
    }

    /// Every blob in `container`, sorted.
    pub fn keys(&self, container: &str) -> Vec<String> {
        let out = self.py(
            "for b in svc.get_container_client(sys.argv[2]).list_blobs():\n    print(b.name)",
            &[container],
        );
        let mut keys: Vec<String> = out.lines().map(str::to_string).collect();
        keys.sort();
        keys
    }

    /// `stage`'s environment for this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AZURE_STORAGE_USE_EMULATOR", "true".into()),
            ("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT.into()),
            ("AZURE_STORAGE_ACCOUNT_KEY", KEY.into()),
            ("AZURITE_BLOB_STORAGE_URL", self.url.clone()),
        ]
    }
}
