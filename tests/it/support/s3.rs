//! A throwaway S3 server: moto's server mode (PyPI `moto[server]`, in the test Python
//! environment `scripts/install-test-deps.sh` creates), on a free port of 127.0.0.1, with
//! a bucket per test. moto implements multipart uploads (and rejects parts under 5 MiB, as
//! S3 does) and conditional puts (`If-None-Match: *`), which the archive relies on.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{
    describe_output, free_port, log_tail, make_temp_dir, unique_name, Registration, INSTALL_HINT,
};

pub struct S3Server {
    pub endpoint: String,
    _registration: Registration,
}

/// The Python of the test environment (`STAGE_TEST_PYTHON` overrides it).
pub fn test_python() -> PathBuf {
    if let Some(p) = std::env::var_os("STAGE_TEST_PYTHON") {
        return p.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    Path::new(&home).join(".cache/stage/test-venv/bin/python")
}

/// Runs `code` with the test Python; panics with its output when it fails.
pub fn python(code: &str, args: &[&str]) -> String {
    let out = Command::new(test_python())
        .arg("-c")
        .arg(code)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", test_python().display()));
    assert!(
        out.status.success(),
        "python failed: {}",
        describe_output(&out)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Starts `cmd` (a server that logs to `log`) as a child registered for teardown, and waits
/// until `port` accepts connections.
pub(super) fn start_listening(
    kind: &str,
    dir: &Path,
    mut cmd: Command,
    port: u16,
    log: &Path,
) -> Result<Registration, String> {
    let registration = Registration::new(
        dir,
        "if [ \"$pid\" -gt 0 ]; then kill \"$pid\" 2>/dev/null; wait_gone \"$pid\"; fi",
    )?;
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone().map_err(|e| e.to_string())?)
        .stderr(out)
        .spawn()
        .map_err(|e| format!("cannot start the {kind} server: {e}; {INSTALL_HINT}"))?;
    registration.attach_server(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(registration);
        }
        if let Some(status) = registration.server_exit_status() {
            return Err(format!(
                "the {kind} server exited ({status}):\n{}",
                log_tail(log, 40)
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "the {kind} server did not listen on {port} within 60 s:\n{}",
        log_tail(log, 40)
    ))
}

/// The server shared by the tests of this process, started on first use.
pub fn s3() -> &'static S3Server {
    static SHARED: OnceLock<Result<S3Server, String>> = OnceLock::new();
    match SHARED.get_or_init(S3Server::try_start) {
        Ok(s) => s,
        Err(m) => panic!("{m}"),
    }
}

impl S3Server {
    fn try_start() -> Result<S3Server, String> {
        let python = test_python();
        let bin = python.with_file_name("moto_server");
        if !bin.exists() {
            return Err(format!(
                "no moto_server at {}: {INSTALL_HINT} (it installs moto[server] into the test Python environment)",
                bin.display()
            ));
        }
        let dir = make_temp_dir("s3", None)?;
        let log_file = dir.join("moto.log");
        let port = free_port()?;
        let mut cmd = Command::new(&bin);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
        let registration = start_listening("moto S3", &dir, cmd, port, &log_file)?;
        Ok(S3Server {
            endpoint: format!("http://127.0.0.1:{port}"),
            _registration: registration,
        })
    }

    /// Creates a fresh bucket; returns its name.
    pub fn bucket(&self, prefix: &str) -> String {
        let name = unique_name(prefix).replace('_', "-");
        self.py(
            "import sys\nc = client(); c.create_bucket(Bucket=sys.argv[2])",
            &[&name],
        );
        name
    }

    /// `stage`'s environment for this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing-secret".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT", self.endpoint.clone()),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }

    /// Runs Python with `client()` (a boto3 S3 client of this server) defined; `sys.argv[1]`
    /// is the endpoint, the others are `args`.
    pub fn py(&self, code: &str, args: &[&str]) -> String {
        let prelude = "import boto3, sys\ndef client():\n    return boto3.client('s3', endpoint_url=sys.argv[1], aws_access_key_id='testing', aws_secret_access_key='testing-secret', region_name='us-east-1')\n";
        let mut all = vec![self.endpoint.as_str()];
        all.extend_from_slice(args);
        python(&format!("{prelude}{code}"), &all)
    }

    /// Every key in `bucket`, sorted.
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let out = self.py(
            "p = client().get_paginator('list_objects_v2')\nfor page in p.paginate(Bucket=sys.argv[2]):\n    for o in page.get('Contents', []):\n        print(o['Key'])",
            &[bucket],
        );
        let mut keys: Vec<String> = out.lines().map(str::to_string).collect();
        keys.sort();
        keys
    }

    /// The keys of the multipart uploads pending in `bucket`.
    pub fn pending_uploads(&self, bucket: &str) -> Vec<String> {
        let out = self.py(
            "r = client().list_multipart_uploads(Bucket=sys.argv[2])\nfor u in r.get('Uploads', []):\n    print(u['Key'])",
            &[bucket],
        );
        out.lines().map(str::to_string).collect()
    }
}
