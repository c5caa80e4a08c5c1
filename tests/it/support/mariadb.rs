//! A throwaway MariaDB server: `mariadb-install-db` + `mariadbd` from the machine's own binaries
//! (or their MySQL-named equivalents `mysql_install_db` + `mysqld`).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::tls::Pki;
use super::{
    describe_output, file_len, find_executable, free_port, is_root, log_tail, make_temp_dir,
    random_password, read_from, run_with_input, unique_name, Registration, INSTALL_HINT,
    PORT_ATTEMPTS,
};

/// Where the server binary may be when it is not on PATH (sbin is not on every user's PATH).
const SERVER_DIRS: &[&str] = &["/usr/sbin", "/usr/local/sbin", "/sbin", "/usr/libexec"];
const TOOL_DIRS: &[&str] = &["/usr/bin", "/usr/local/bin"];

/// Lines of the server log shown when something fails.
const LOG_LINES: usize = 40;

/// How long a server may take to open its socket.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The watchdog's stop command: kill the server (its data is thrown away) and wait until it is
/// gone, so that nothing writes into the directory while it is being removed.
const STOP: &str = r#"if [ "$pid" -gt 0 ] 2>/dev/null; then
  kill -9 "$pid" 2>/dev/null
  wait_gone "$pid"
fi"#;

/// A running MariaDB server owned by this test process; stopped, and its directory removed, when
/// dropped (the shared one of [`mariadb()`]: when the process ends).
pub struct MariaDbServer {
    /// Always `127.0.0.1`.
    pub host: String,
    pub port: u16,
    /// `root`, with all privileges.
    pub user: String,
    /// `root`'s password, required on every connection.
    pub password: String,
    client: PathBuf,
    /// Extra arguments of the `mariadb` client: `--ssl` for a server that requires TLS.
    client_args: Vec<String>,
    log_file: PathBuf,
    registration: Registration,
}

/// The server shared by every test of this process, started on first use.
///
/// Panics with the reason (missing binaries and what to run, or the server log) if it cannot be
/// started; every later call panics with the same message without trying again.
pub fn mariadb() -> &'static MariaDbServer {
    static SHARED: OnceLock<Result<MariaDbServer, String>> = OnceLock::new();
    match SHARED.get_or_init(MariaDbServer::try_start_retrying) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

impl MariaDbServer {
    /// Starts a server of its own (not the shared one); it is stopped when dropped.
    pub fn start_new() -> MariaDbServer {
        MariaDbServer::try_start_retrying().unwrap_or_else(|message| panic!("{message}"))
    }

    /// Starts a server of its own that requires TLS (`require_secure_transport=ON`) with
    /// `pki`'s server certificate (`ssl_cert`, `ssl_key`) and CA (`ssl_ca`, which also
    /// checks client certificates). It listens on 127.0.0.1 and on 127.0.0.2, an address
    /// the certificate does not name (for host name checks). [`MariaDbServer::query`] goes
    /// through TLS too.
    pub fn start_tls(pki: &Pki) -> MariaDbServer {
        MariaDbServer::try_start_retrying_with(Some(pki))
            .unwrap_or_else(|message| panic!("{message}"))
    }

    /// [`MariaDbServer::try_start_with`], tried up to three times: on a loaded machine
    /// `mariadb-install-db` occasionally fails once for no reason its log gives.
    pub fn try_start_retrying() -> Result<MariaDbServer, String> {
        MariaDbServer::try_start_retrying_with(None)
    }

    fn try_start_retrying_with(tls: Option<&Pki>) -> Result<MariaDbServer, String> {
        let mut last = String::new();
        for attempt in 1..=3 {
            match MariaDbServer::try_start_with(tls) {
                Ok(server) => return Ok(server),
                Err(message) if message.contains("not found on PATH") => return Err(message),
                Err(message) => {
                    eprintln!("MariaDB start attempt {attempt} failed; retrying");
                    last = message;
                    std::thread::sleep(std::time::Duration::from_millis(500));
                }
            }
        }
        Err(last)
    }

    /// Starts a server (requiring TLS with `tls`'s certificates when given), or says why it
    /// could not.
    fn try_start_with(tls: Option<&Pki>) -> Result<MariaDbServer, String> {
        let missing = |what: &str| {
            format!(
                "MariaDB {what} not found on PATH or in /usr/sbin, /usr/bin: {INSTALL_HINT} \
                 (or `sudo apt-get install -y mariadb-server mariadb-client`)"
            )
        };
        let server_bin = find_executable(&["mariadbd", "mysqld"], SERVER_DIRS)
            .ok_or_else(|| missing("server (mariadbd or mysqld)"))?;
        let install_db = find_executable(&["mariadb-install-db", "mysql_install_db"], TOOL_DIRS)
            .ok_or_else(|| missing("mariadb-install-db (or mysql_install_db)"))?;
        let client = find_executable(&["mariadb", "mysql"], TOOL_DIRS)
            .ok_or_else(|| missing("client (mariadb or mysql)"))?;

        let dir = make_temp_dir("mariadb", None)?;
        let registration = Registration::new(&dir, STOP)?;
        let data = dir.join("data");
        let socket = dir.join("mariadbd.sock");
        let log_file = dir.join("server.log");
        // mariadbd refuses to run as root unless told to.
        let user_arg = is_root().then_some("--user=root");
        let tls_args = match tls {
            Some(pki) => tls_files(pki, &dir)?,
            None => Vec::new(),
        };
        let bind = if tls.is_some() {
            "--bind-address=127.0.0.1,127.0.0.2"
        } else {
            "--bind-address=127.0.0.1"
        };

        let installed = registration
            .run_helper(
                Command::new(&install_db)
                    .arg("--no-defaults")
                    .arg(format!("--datadir={}", data.display()))
                    .args([
                        // root@localhost and root@127.0.0.1 get an empty password (set below),
                        // whoever runs the tests, instead of unix_socket authentication.
                        "--auth-root-authentication-method=normal",
                        "--skip-test-db",
                        "--skip-name-resolve",
                    ])
                    .args(user_arg)
                    .current_dir(&dir),
            )
            .map_err(|e| format!("cannot run {}: {e}", install_db.display()))?;
        if !installed.status.success() {
            return Err(format!(
                "{} failed ({}):\n{}",
                install_db.display(),
                installed.status,
                describe_output(&installed)
            ));
        }

        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port()?;
            let log_start = file_len(&log_file);
            let _ = std::fs::remove_file(&socket);
            let spawned = Command::new(&server_bin)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--socket={}", socket.display()))
                .arg(format!("--port={port}"))
                .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
                .arg(format!("--log-error={}", log_file.display()))
                .arg(format!("--tmpdir={}", dir.display()))
                .arg(bind)
                .args(&tls_args)
                .args([
                    "--skip-name-resolve",
                    "--skip-log-bin",
                    "--local-infile=1",
                    "--innodb-flush-log-at-trx-commit=0",
                    "--innodb-doublewrite=0",
                    "--character-set-server=utf8mb4",
                    "--collation-server=utf8mb4_general_ci",
                    "--default-time-zone=+00:00",
                    "--max-connections=200",
                ])
                .args(user_arg)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                // Out of the test's process group: Ctrl-C goes to the tests, the watchdog stops
                // the server.
                .process_group(0)
                .spawn()
                .map_err(|e| format!("cannot run {}: {e}", server_bin.display()))?;
            registration.attach_server(spawned);

            let deadline = Instant::now() + START_TIMEOUT;
            let exited = loop {
                if let Some(status) = registration.server_exit_status() {
                    break Some(status);
                }
                if socket.exists() || Instant::now() >= deadline {
                    break None;
                }
                thread::sleep(Duration::from_millis(20));
            };
            if let Some(status) = exited {
                let logged = read_from(&log_file, log_start);
                if logged.contains("Address already in use") && attempt < PORT_ATTEMPTS {
                    continue;
                }
                return Err(format!(
                    "MariaDB failed to start on port {port} ({} exited: {status}):\n{}",
                    server_bin.display(),
                    log_tail(&log_file, LOG_LINES)
                ));
            }
            if !socket.exists() {
                return Err(format!(
                    "MariaDB did not open its socket within {START_TIMEOUT:?}:\n{}",
                    log_tail(&log_file, LOG_LINES)
                ));
            }

            let server = MariaDbServer {
                host: "127.0.0.1".to_string(),
                port,
                user: "root".to_string(),
                password: random_password(),
                client,
                client_args: if tls.is_some() {
                    vec!["--ssl".to_string()]
                } else {
                    Vec::new()
                },
                log_file,
                registration,
            };
            server.set_root_password(&socket)?;
            // Proves TCP and password authentication work before any test relies on them.
            server.try_query(None, "SELECT 1").map_err(|e| {
                format!(
                    "MariaDB started on port {port} but a password login over TCP failed: {e}\n{}",
                    log_tail(&server.log_file, LOG_LINES)
                )
            })?;
            if tls.is_some() {
                // root may also sign in from 127.0.0.2, the address the certificate lacks.
                let pw = &server.password;
                server.try_query(
                    None,
                    &format!(
                        "CREATE USER 'root'@'127.0.0.2' IDENTIFIED BY '{pw}';\n\
                         GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.2' WITH GRANT OPTION;"
                    ),
                )?;
            }
            return Ok(server);
        }
        unreachable!("the last attempt returns")
    }

    /// Gives every `root` account the generated password, through the Unix socket (the only way
    /// in while root's password is still empty).
    fn set_root_password(&self, socket: &Path) -> Result<(), String> {
        let pw = &self.password;
        let sql = format!(
            "ALTER USER 'root'@'localhost' IDENTIFIED BY '{pw}';\n\
             CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';\n\
             ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{pw}';\n\
             GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n\
             ALTER USER IF EXISTS 'root'@'::1' IDENTIFIED BY '{pw}';\n\
             FLUSH PRIVILEGES;\n"
        );
        let mut cmd = Command::new(&self.client);
        cmd.arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["--user=root", "--batch"]);
        let output = run_with_input(&mut cmd, &sql)
            .map_err(|e| format!("cannot run {}: {e}", self.client.display()))?;
        if !output.status.success() {
            return Err(format!(
                "setting MariaDB's root password through {} failed ({}):\n{}\n{}",
                socket.display(),
                output.status,
                describe_output(&output),
                log_tail(&self.log_file, LOG_LINES)
            ));
        }
        Ok(())
    }

    /// `mysql://user:password@127.0.0.1:port/db`
    pub fn url(&self, db: &str) -> String {
        format!(
            "mysql://{}:{}@{}:{}/{db}",
            self.user, self.password, self.host, self.port
        )
    }

    /// Creates a database named [`unique_name`]`(prefix)` and returns its name.
    pub fn create_database(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.query(None, &format!("CREATE DATABASE {name}"));
        name
    }

    /// Runs `sql` (one or more `;`-separated statements) with the `mariadb` (or `mysql`) client
    /// over TCP as root, in `db` if given, and returns its stdout: `-N -B` output, one line per
    /// row, columns separated by tabs, NULL as `NULL`. Panics with the client's error otherwise.
    pub fn query(&self, db: Option<&str>, sql: &str) -> String {
        self.try_query(db, sql).unwrap_or_else(|e| {
            panic!(
                "MariaDB query failed on port {} (database {}): {e}\nSQL: {sql}",
                self.port,
                db.unwrap_or("none")
            )
        })
    }

    /// Like [`MariaDbServer::query`], but returns the client's error instead of panicking.
    pub fn try_query(&self, db: Option<&str>, sql: &str) -> Result<String, String> {
        self.try_query_as(&self.user, &self.password, db, sql)
    }

    /// Like [`MariaDbServer::try_query`], logging in as `user` with `password`.
    pub fn try_query_as(
        &self,
        user: &str,
        password: &str,
        db: Option<&str>,
        sql: &str,
    ) -> Result<String, String> {
        let mut cmd = Command::new(&self.client);
        cmd.arg("--no-defaults")
            .args(["--protocol=TCP", "-h", &self.host])
            .arg(format!("--port={}", self.port))
            .arg(format!("--user={user}"))
            .args(&self.client_args)
            .args(["-N", "-B", "--default-character-set=utf8mb4"])
            .args(db.map(|db| format!("--database={db}")))
            // Not on the command line, where `ps` would show it.
            .env("MYSQL_PWD", password);
        let output = run_with_input(&mut cmd, sql)
            .map_err(|e| format!("cannot run {}: {e}", self.client.display()))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "{} exited with {}: {}",
                self.client.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ))
        }
    }

    /// `SELECT VERSION()`, e.g. `10.11.19-MariaDB-0+deb12u1`.
    pub fn version(&self) -> String {
        self.query(None, "SELECT VERSION()").trim().to_string()
    }

    /// The server's temporary directory (data, socket, log); removed when the server stops.
    pub fn dir(&self) -> &Path {
        &self.registration.dir
    }

    /// Stops the server and removes its directory (the same as dropping it).
    pub fn stop(self) {
        drop(self);
    }
}

/// Copies `pki`'s server files into the server's directory `dir` (the key readable by its
/// owner only, as the server wants) and returns the server's TLS arguments.
fn tls_files(pki: &Pki, dir: &Path) -> Result<Vec<String>, String> {
    use std::os::unix::fs::PermissionsExt;
    let tls = dir.join("tls");
    std::fs::create_dir(&tls).map_err(|e| format!("cannot create {}: {e}", tls.display()))?;
    let copy = |from: &Path, name: &str, mode: u32| -> Result<PathBuf, String> {
        let to = tls.join(name);
        std::fs::copy(from, &to)
            .and_then(|_| std::fs::set_permissions(&to, std::fs::Permissions::from_mode(mode)))
            .map_err(|e| format!("cannot copy {} to {}: {e}", from.display(), to.display()))?;
        Ok(to)
    };
    let ca = copy(&pki.ca_cert, "ca.pem", 0o644)?;
    let cert = copy(&pki.server_cert, "server.pem", 0o644)?;
    let key = copy(&pki.server_key, "server.key", 0o600)?;
    Ok(vec![
        format!("--ssl-ca={}", ca.display()),
        format!("--ssl-cert={}", cert.display()),
        format!("--ssl-key={}", key.display()),
        "--require-secure-transport=ON".to_string(),
    ])
}
