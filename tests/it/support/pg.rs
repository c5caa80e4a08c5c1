//! A throwaway PostgreSQL server: `initdb` + `pg_ctl` from the machine's own binaries.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::tls::Pki;
use super::{
    describe_output, file_len, find_executable, free_port, is_root, log_tail, make_temp_dir,
    random_password, read_from, shell_quote, unique_name, Registration, INSTALL_HINT,
    PORT_ATTEMPTS,
};

/// Where Debian and Ubuntu put each PostgreSQL version's binaries: `<this>/<version>/bin`.
const DEBIAN_PG_LIB: &str = "/usr/lib/postgresql";

/// Lines of the server log shown when something fails.
const LOG_LINES: usize = 40;

/// A running PostgreSQL server owned by this test process; stopped, and its directory removed,
/// when dropped (the shared one of [`pg()`]: when the process ends).
pub struct PgServer {
    /// Always `127.0.0.1`.
    pub host: String,
    pub port: u16,
    /// The superuser, `postgres`.
    pub user: String,
    /// The superuser's password, required on TCP (scram-sha-256).
    pub password: String,
    log_file: PathBuf,
    /// Started by [`PgServer::start_tls`]: TCP only with TLS, so the tests' own clients
    /// come in through the Unix socket.
    tls: bool,
    registration: Registration,
}

/// The server shared by every test of this process, started on first use.
///
/// Panics with the reason (missing binaries and what to run, or the server log) if it cannot be
/// started; every later call panics with the same message without trying again.
pub fn pg() -> &'static PgServer {
    static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
    match SHARED.get_or_init(PgServer::try_start) {
        Ok(server) => server,
        Err(message) => panic!("{message}"),
    }
}

impl PgServer {
    /// Starts a server of its own (not the shared one); it is stopped when dropped.
    pub fn start_new() -> PgServer {
        PgServer::try_start().unwrap_or_else(|message| panic!("{message}"))
    }

    /// Starts a server of its own that speaks TLS with `pki`'s server certificate
    /// (`ssl = on`) and takes TCP connections only over TLS: `pg_hba.conf` has `hostssl`
    /// lines only, so a plain connection is refused with the server's own message. It
    /// listens on 127.0.0.1 and on 127.0.0.2 (a name the certificate does not carry).
    /// The user `stage` logs in with `pki`'s client certificate (`cert`), everyone else with
    /// a password; create that role to use it. [`PgServer::client`] uses the Unix socket.
    pub fn start_tls(pki: &Pki) -> PgServer {
        PgServer::try_start_with(Some(pki)).unwrap_or_else(|message| panic!("{message}"))
    }

    /// Starts a server, or says why it could not.
    pub fn try_start() -> Result<PgServer, String> {
        PgServer::try_start_with(None)
    }

    fn try_start_with(pki: Option<&Pki>) -> Result<PgServer, String> {
        let bin = pg_bin_dir()?;
        let run_as = if is_root() {
            Some(RunAs::unprivileged()?)
        } else {
            None
        };
        let dir = make_temp_dir("pg", run_as.as_ref().map(|r| r.uid))?;
        let data = dir.join("data");
        let log_file = dir.join("server.log");
        let pg_ctl = bin.join("pg_ctl");
        // Immediate shutdown, then wait for the postmaster itself to be gone: pg_ctl only waits
        // for its pid file to disappear.
        let pid_file = shell_quote(&data.join("postmaster.pid").to_string_lossy());
        let stop = format!(
            "postmaster=$(head -n 1 {pid_file} 2>/dev/null)\n\
             if {}{} -D {} stop -m immediate -w -t 30 >/dev/null 2>&1 && [ -n \"$postmaster\" ]; \
             then wait_gone \"$postmaster\"; fi",
            run_as.as_ref().map(RunAs::shell_prefix).unwrap_or_default(),
            shell_quote(&pg_ctl.to_string_lossy()),
            shell_quote(&data.to_string_lossy()),
        );
        let registration = Registration::new(&dir, &stop)?;
        let command = |program: &Path| -> Command {
            let mut cmd = match &run_as {
                Some(run_as) => {
                    let mut cmd = Command::new(&run_as.runuser);
                    cmd.args(["-u", &run_as.user, "--"]).arg(program);
                    cmd
                }
                None => Command::new(program),
            };
            // English messages (they are searched for "Address already in use"), and a working
            // directory the server's user can enter.
            cmd.env("LC_ALL", "C").current_dir(&dir);
            cmd
        };

        let password = random_password();
        let pwfile = dir.join("pwfile");
        write_private(&pwfile, &password, run_as.as_ref().map(|r| r.uid))?;
        let initdb = registration
            .run_helper(
                command(&bin.join("initdb"))
                    .arg("-D")
                    .arg(&data)
                    .arg(format!("--pwfile={}", pwfile.display()))
                    .args([
                        "--username=postgres",
                        "--encoding=UTF8",
                        "--locale=C",
                        "--auth-local=trust",
                        "--auth-host=scram-sha-256",
                        "--no-sync",
                    ]),
            )
            .map_err(|e| format!("cannot run {}/initdb: {e}", bin.display()))?;
        let _ = fs::remove_file(&pwfile);
        if !initdb.status.success() {
            return Err(format!(
                "PostgreSQL initdb failed ({}):\n{}",
                initdb.status,
                describe_output(&initdb)
            ));
        }

        let mut settings = format!(
            "\n# stage integration tests: fast and throwaway, TCP on 127.0.0.1 only\n\
             listen_addresses = '{}'\n\
             unix_socket_directories = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             max_connections = 200\n\
             timezone = 'UTC'\n\
             log_timezone = 'UTC'\n",
            if pki.is_some() {
                "127.0.0.1,127.0.0.2"
            } else {
                "127.0.0.1"
            },
            dir.display().to_string().replace('\'', "''")
        );
        if let Some(pki) = pki {
            settings.push_str(&tls_setup(
                pki,
                &dir,
                &data,
                run_as.as_ref().map(|r| r.uid),
            )?);
        }
        fs::OpenOptions::new()
            .append(true)
            .open(data.join("postgresql.conf"))
            .and_then(|mut conf| conf.write_all(settings.as_bytes()))
            .map_err(|e| format!("cannot write {}/postgresql.conf: {e}", data.display()))?;

        for attempt in 1..=PORT_ATTEMPTS {
            let port = free_port()?;
            let log_start = file_len(&log_file);
            let started = registration
                .run_helper(
                    command(&pg_ctl)
                        .arg("-D")
                        .arg(&data)
                        .arg("-l")
                        .arg(&log_file)
                        .args(["-w", "-t", "60", "-o", &format!("-p {port}"), "start"]),
                )
                .map_err(|e| format!("cannot run {}: {e}", pg_ctl.display()))?;
            if started.status.success() {
                let server = PgServer {
                    host: "127.0.0.1".to_string(),
                    port,
                    user: "postgres".to_string(),
                    password,
                    log_file,
                    tls: pki.is_some(),
                    registration,
                };
                // Proves TCP and password authentication work before any test relies on them
                // (over the socket for a TLS server, whose TCP the tests themselves check).
                if let Err(e) = server.try_client("postgres") {
                    return Err(format!(
                        "PostgreSQL started on port {port} but refused a password login over \
                         TCP: {e}\n{}",
                        log_tail(&server.log_file, LOG_LINES)
                    ));
                }
                return Ok(server);
            }
            let logged = read_from(&log_file, log_start);
            if logged.contains("Address already in use") && attempt < PORT_ATTEMPTS {
                continue;
            }
            return Err(format!(
                "PostgreSQL failed to start on port {port} (pg_ctl start: {}):\n{}\n{}",
                started.status,
                describe_output(&started),
                log_tail(&log_file, LOG_LINES)
            ));
        }
        unreachable!("the last attempt returns")
    }

    /// `postgresql://user:password@127.0.0.1:port/db`
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql://{}:{}@{}:{}/{db}",
            self.user, self.password, self.host, self.port
        )
    }

    /// A connection to `db` as the superuser: over TCP with the password, or for a TLS
    /// server over its Unix socket.
    pub fn client(&self, db: &str) -> postgres::Client {
        self.try_client(db).unwrap_or_else(|e| {
            panic!(
                "cannot connect to the test PostgreSQL server on port {} (database {db}): {e}\n{}",
                self.port,
                log_tail(&self.log_file, LOG_LINES)
            )
        })
    }

    fn try_client(&self, db: &str) -> Result<postgres::Client, postgres::Error> {
        if self.tls {
            postgres::Config::new()
                .host_path(self.dir())
                .port(self.port)
                .user(&self.user)
                .dbname(db)
                .connect(postgres::NoTls)
        } else {
            postgres::Client::connect(&self.url(db), postgres::NoTls)
        }
    }

    /// Creates a database named [`unique_name`]`(prefix)` and returns its name.
    pub fn create_database(&self, prefix: &str) -> String {
        let name = unique_name(prefix);
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name} failed: {e}"));
        name
    }

    /// `SELECT version()`, e.g. `PostgreSQL 15.18 (Debian 15.18-0+deb12u1) on x86_64-pc-linux-gnu, ...`.
    pub fn version(&self) -> String {
        self.client("postgres")
            .query_one("SELECT version()", &[])
            .unwrap_or_else(|e| panic!("SELECT version() failed: {e}"))
            .get(0)
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

/// The newest `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on PATH.
fn pg_bin_dir() -> Result<PathBuf, String> {
    let has_tools = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let mut newest: Option<(Vec<u32>, PathBuf)> = None;
    for entry in fs::read_dir(DEBIAN_PG_LIB).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let version: Option<Vec<u32>> = name
            .to_string_lossy()
            .split('.')
            .map(|part| part.parse().ok())
            .collect();
        let bin = entry.path().join("bin");
        if let Some(version) = version {
            if has_tools(&bin) && newest.as_ref().is_none_or(|(v, _)| version > *v) {
                newest = Some((version, bin));
            }
        }
    }
    if let Some((_, bin)) = newest {
        return Ok(bin);
    }
    // Resolve symlinks such as /usr/local/bin/initdb -> /usr/lib/postgresql/15/bin/initdb.
    if let Some(initdb) = find_executable(&["initdb"], &[]) {
        let initdb = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = initdb.parent().filter(|dir| has_tools(dir)) {
            return Ok(dir.to_path_buf());
        }
    }
    Err(format!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in {DEBIAN_PG_LIB}/*/bin or on \
         PATH: {INSTALL_HINT} (or `sudo apt-get install -y postgresql postgresql-client`)"
    ))
}

/// The unprivileged user that runs the server when the tests run as root (PostgreSQL refuses to
/// run as root): `postgres` if it exists, else `nobody`.
struct RunAs {
    user: String,
    uid: u32,
    runuser: PathBuf,
}

impl RunAs {
    fn unprivileged() -> Result<RunAs, String> {
        let runuser = find_executable(&["runuser"], &["/usr/sbin", "/sbin"]).ok_or(
            "`runuser` (util-linux) not found: it is needed to run PostgreSQL as an unprivileged \
             user when the tests run as root",
        )?;
        for user in ["postgres", "nobody"] {
            if let Some(uid) = uid_of(user) {
                return Ok(RunAs {
                    user: user.to_string(),
                    uid,
                    runuser,
                });
            }
        }
        Err(
            "the tests run as root, and neither a `postgres` nor a `nobody` user exists to run \
             PostgreSQL (which refuses to run as root)"
                .to_string(),
        )
    }

    /// `runuser -u USER -- `, for shell commands.
    fn shell_prefix(&self) -> String {
        format!(
            "{} -u {} -- ",
            shell_quote(&self.runuser.to_string_lossy()),
            shell_quote(&self.user)
        )
    }
}

fn uid_of(user: &str) -> Option<u32> {
    let output = Command::new("id").args(["-u", user]).output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).trim().parse().ok()
}

/// Gives the server copies of `pki`'s server certificate, key and CA (in `dir`, owned by
/// the server's user, the key 0600), and a `pg_hba.conf` of `hostssl` lines only; returns
/// the `postgresql.conf` lines that turn TLS on.
fn tls_setup(pki: &Pki, dir: &Path, data: &Path, owner_uid: Option<u32>) -> Result<String, String> {
    let copy = |from: &Path, name: &str| -> Result<PathBuf, String> {
        let to = dir.join(name);
        let text =
            fs::read_to_string(from).map_err(|e| format!("cannot read {}: {e}", from.display()))?;
        write_private(&to, &text, owner_uid)?;
        Ok(to)
    };
    let cert = copy(&pki.server_cert, "server.crt")?;
    let key = copy(&pki.server_key, "server.key")?;
    let ca = copy(&pki.ca_cert, "ca.crt")?;
    let hba = "# stage TLS tests: the socket for the harness, TCP over TLS only\n\
               local all all trust\n\
               hostssl all stage 127.0.0.0/8 cert\n\
               hostssl all all 127.0.0.0/8 scram-sha-256\n";
    fs::write(data.join("pg_hba.conf"), hba)
        .map_err(|e| format!("cannot write {}/pg_hba.conf: {e}", data.display()))?;
    let quote = |p: &Path| p.display().to_string().replace('\'', "''");
    Ok(format!(
        "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nssl_ca_file = '{}'\n",
        quote(&cert),
        quote(&key),
        quote(&ca)
    ))
}

/// Writes `contents` to a new file readable only by its owner (`owner_uid` if given).
fn write_private(path: &Path, contents: &str, owner_uid: Option<u32>) -> Result<(), String> {
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    file.write_all(contents.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    if let Some(uid) = owner_uid {
        std::os::unix::fs::chown(path, Some(uid), None)
            .map_err(|e| format!("cannot give {} to uid {uid}: {e}", path.display()))?;
    }
    Ok(())
}
