//! Certificates for the TLS tests, made by the machine's `openssl` command: a CA, a server
//! certificate for `localhost` and `127.0.0.1` signed by it, a client certificate signed by
//! it, and a second CA the servers never use (an "unknown CA" for the client).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::make_temp_dir;

/// The files of one test PKI, in a fresh directory of the test process's user (removed on
/// drop). A server started as another user gets copies of its files in its own directory.
pub struct Pki {
    dir: PathBuf,
    /// The CA that signed the server and client certificates.
    pub ca_cert: PathBuf,
    /// The server's certificate (`CN=localhost`, SAN `DNS:localhost`, `IP:127.0.0.1`).
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    /// A client certificate (`CN=stage`) signed by [`Pki::ca_cert`].
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
    /// A CA that signed nothing the servers present.
    pub other_ca_cert: PathBuf,
}

impl Pki {
    /// Makes every file, or panics with `openssl`'s own message.
    pub fn new() -> Pki {
        let dir = make_temp_dir("pki", None).expect("a temporary directory for certificates");
        let f = |name: &str| dir.join(name);
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=stage test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
            ],
        );
        openssl(
            &dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=stage other CA",
                "-keyout",
                "other-ca.key",
                "-out",
                "other-ca.pem",
            ],
        );
        std::fs::write(
            f("server.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        std::fs::write(
            f("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )
        .unwrap();
        for (name, cn) in [("server", "localhost"), ("client", "stage")] {
            openssl(
                &dir,
                &[
                    "req",
                    "-newkey",
                    "rsa:2048",
                    "-nodes",
                    "-subj",
                    &format!("/CN={cn}"),
                    "-keyout",
                    &format!("{name}.key"),
                    "-out",
                    &format!("{name}.csr"),
                ],
            );
            openssl(
                &dir,
                &[
                    "x509",
                    "-req",
                    "-in",
                    &format!("{name}.csr"),
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca.key",
                    "-CAcreateserial",
                    "-days",
                    "2",
                    "-extfile",
                    &format!("{name}.ext"),
                    "-out",
                    &format!("{name}.pem"),
                ],
            );
        }
        Pki {
            ca_cert: f("ca.pem"),
            server_cert: f("server.pem"),
            server_key: f("server.key"),
            client_cert: f("client.pem"),
            client_key: f("client.key"),
            other_ca_cert: f("other-ca.pem"),
            dir,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the openssl command (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}
