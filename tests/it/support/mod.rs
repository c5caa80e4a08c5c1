//! Throwaway database servers for the integration tests.
//!
//! [`pg()`] and [`mariadb()`] start one server each per test process, lazily, from the machine's
//! own binaries (`scripts/install-test-deps.sh` installs them). Every test shares them and works
//! in a database of its own ([`PgServer::create_database`], [`MariaDbServer::create_database`]).
//! A server listens on a free TCP port of 127.0.0.1 with real password authentication and keeps
//! its data, socket and log in a fresh temporary directory.
//!
//! Nothing is left behind, however the test process ends:
//! - an `atexit` handler (libtest leaves through `std::process::exit`, which runs it) stops every
//!   server still running and removes its directory before the process is gone, also after
//!   failed tests;
//! - every server has a watchdog: a small `sh` process, in a process group of its own, that holds
//!   the read end of a pipe whose write end only the test process has. The kernel closes that end
//!   when the process dies in any way (SIGKILL included), so the watchdog's `read` returns then
//!   and it stops the server and removes the directory. `atexit` and `Drop` use the same path:
//!   they close the pipe and wait for the watchdog.

pub mod azurite;
pub mod mariadb;
pub mod pg;
pub mod s3;
pub mod tls;

pub use mariadb::{mariadb, MariaDbServer};
pub use pg::{pg, PgServer};

use std::fs;
use std::io::{ErrorKind, Write};
use std::net::TcpListener;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Once, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use rand::distr::Alphanumeric;
use rand::Rng;

/// What to run when a server's binaries are missing.
const INSTALL_HINT: &str = "run `sudo scripts/install-test-deps.sh`";

/// How many times a server start is retried when its port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// A unique, lowercase, identifier-safe name: the prefix (characters other than ASCII letters,
/// digits and `_` become `_`), the process id and a counter, e.g. `t_1234_7`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase() || c == '_') {
        clean.insert(0, 't');
    }
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{clean}_{}_{n}", std::process::id())
}

unsafe extern "C" {
    // Both are in the C library, which std links anyway.
    fn atexit(callback: extern "C" fn()) -> std::os::raw::c_int;
    fn geteuid() -> u32;
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { geteuid() == 0 }
}

/// The first executable named one of `names`, looked up on PATH and then in `extra_dirs`.
fn find_executable(names: &[&str], extra_dirs: &[&str]) -> Option<PathBuf> {
    let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    let dirs: Vec<PathBuf> = path_dirs
        .into_iter()
        .chain(extra_dirs.iter().map(PathBuf::from))
        .collect();
    names.iter().find_map(|name| {
        dirs.iter()
            .map(|dir| dir.join(name))
            .find(|candidate| is_executable(candidate))
    })
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close).
fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| format!("cannot bind a TCP port on 127.0.0.1: {e}"))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| format!("cannot read the address of a bound socket: {e}"))
}

/// `n` random lowercase letters and digits.
fn random_token(n: usize) -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(n)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect()
}

/// A random password for a test server (letters and digits, so it needs no escaping in URLs).
fn random_password() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(24)
        .map(char::from)
        .collect()
}

/// The directory to create server directories in: `$TMPDIR` (or /tmp) unless its path is too long
/// for a Unix socket name, or, when a server runs as another user, not traversable by others.
fn temp_base(other_user: bool) -> PathBuf {
    let base = std::env::temp_dir();
    let traversable = || {
        base.ancestors().all(|dir| {
            fs::metadata(dir).is_ok_and(|m| m.is_dir() && m.permissions().mode() & 0o001 != 0)
        })
    };
    if base.as_os_str().len() <= 48 && (!other_user || traversable()) {
        base
    } else {
        PathBuf::from("/tmp")
    }
}

/// Creates a fresh private directory `stage-it-<kind>-<pid>-<random>`, owned by `owner_uid` if
/// given (a server that runs as another user).
fn make_temp_dir(kind: &str, owner_uid: Option<u32>) -> Result<PathBuf, String> {
    let base = temp_base(owner_uid.is_some());
    for _ in 0..100 {
        let dir = base.join(format!(
            "stage-it-{kind}-{}-{}",
            std::process::id(),
            random_token(6)
        ));
        match fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {
                if let Some(uid) = owner_uid {
                    if let Err(e) = std::os::unix::fs::chown(&dir, Some(uid), None) {
                        let _ = fs::remove_dir(&dir);
                        return Err(format!("cannot give {} to uid {uid}: {e}", dir.display()));
                    }
                }
                return Ok(dir);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    Err(format!(
        "cannot find an unused directory name in {}",
        base.display()
    ))
}

/// The last `lines` lines of a log file, for error messages.
fn log_tail(path: &Path, lines: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let all: Vec<&str> = text.lines().collect();
            let start = all.len().saturating_sub(lines);
            format!(
                "--- last {} lines of {} ---\n{}",
                all.len() - start,
                path.display(),
                all[start..].join("\n")
            )
        }
        Err(e) => format!("--- no log: cannot read {}: {e} ---", path.display()),
    }
}

/// The length of a file, 0 if it does not exist (to read only what a start attempt logged).
fn file_len(path: &Path) -> u64 {
    fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// What was appended to a file after `offset`.
fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

/// `s` quoted for `sh`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A command's stdout and stderr, trimmed, for error messages.
fn describe_output(output: &Output) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    [stdout.trim(), stderr.trim()]
        .iter()
        .filter(|s| !s.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs `cmd` with `input` on its stdin and collects its output.
fn run_with_input(cmd: &mut Command, input: &str) -> std::io::Result<Output> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().expect("stdin was configured as piped");
    // Write from another thread so that a command printing a lot cannot block on a full pipe
    // while this thread is still writing.
    thread::scope(|scope| {
        scope.spawn(move || {
            // A command that exits early (e.g. on a SQL error) closes the pipe; its exit status
            // tells what happened.
            let _ = stdin.write_all(input.as_bytes());
        });
        child.wait_with_output()
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything needed to stop one server and remove its directory.
struct Teardown {
    dir: PathBuf,
    /// Shell code that kills the start-up helpers still running (`$group`), stops the server
    /// (`$pid`, if it is a child of the test process) and removes `dir`.
    cleanup: String,
    /// The values last sent to the watchdog, for running `cleanup` without it.
    pid: u32,
    group: u32,
    watchdog: Option<Child>,
    /// The write end of the watchdog's stdin; closing it starts the cleanup.
    watchdog_stdin: Option<ChildStdin>,
    /// A server process that is a child of the test process (reaped after the cleanup).
    server: Option<Child>,
    done: bool,
}

/// The process ids the cleanup needs (0: none).
#[derive(Clone, Copy)]
enum Var {
    /// The server, when it is a child of the test process: killed.
    Pid,
    /// The process group of a start-up helper still running (initdb, ...): killed.
    Group,
}

impl Teardown {
    /// Tells the watchdog (and `run`) a new value of `$pid` or `$group`.
    fn send(&mut self, var: Var, value: u32) {
        let name = match var {
            Var::Pid => {
                self.pid = value;
                "pid"
            }
            Var::Group => {
                self.group = value;
                "group"
            }
        };
        if let Some(stdin) = self.watchdog_stdin.as_mut() {
            // If the watchdog is gone, `run` does the cleanup itself.
            let _ = writeln!(stdin, "{name}={value}");
        }
    }

    fn run(&mut self) {
        if self.done {
            return;
        }
        self.done = true;
        drop(self.watchdog_stdin.take());
        if let Some(mut watchdog) = self.watchdog.take() {
            wait_or_kill(&mut watchdog, Duration::from_secs(60));
        }
        if self.dir.exists() {
            // The watchdog did not do its job (it was killed, or timed out): do it here.
            let script = format!("pid={}\ngroup={}\n{}", self.pid, self.group, self.cleanup);
            let _ = Command::new("/bin/sh")
                .arg("-c")
                .arg(script)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // Only now reap the server: until then its pid cannot be reused, so killing `$pid` above
        // could not hit another process.
        if let Some(mut server) = self.server.take() {
            let _ = server.kill();
            let _ = server.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

fn wait_or_kill(child: &mut Child, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
            Ok(None) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// The watchdog's first part: it reads `pid=N` and `group=N` lines until EOF, which comes when the
/// test process closes the pipe, or is gone (the kernel closes its end however it ended).
const WATCHDOG: &str = r#"trap '' HUP INT
pid=0
group=0
while IFS= read -r line; do
  case "$line" in
    pid=*) pid=${line#pid=} ;;
    group=*) group=${line#group=} ;;
  esac
done
"#;

/// The cleanup, run by the watchdog (or in-process if the watchdog is gone): start-up helpers
/// still running (initdb, ...) are killed first so that none of them writes into the directory
/// while it is removed, and the removal is retried for any that still did. The server's stop
/// code (`@STOP@`) can use `wait_gone PID`: it returns once that process has exited or is a
/// zombie (whose files are closed), after 30 s at most.
const CLEANUP: &str = r#"wait_gone() {
  n=0
  while [ "$n" -lt 600 ]; do
    state=$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$1/status" 2>/dev/null)
    case "$state" in ''|Z|X) return 0 ;; esac
    sleep 0.05
    n=$((n + 1))
  done
}
if [ "$group" -gt 0 ] 2>/dev/null; then kill -9 "-$group" 2>/dev/null; fi
@STOP@
n=0
while [ -e @DIR@ ] && [ "$n" -lt 50 ]; do
  rm -rf -- @DIR@ 2>/dev/null
  [ -e @DIR@ ] && sleep 0.1
  n=$((n + 1))
done
"#;

/// Teardowns not run yet, for the `atexit` handler.
static LIVE: Mutex<Vec<Arc<Mutex<Teardown>>>> = Mutex::new(Vec::new());

extern "C" fn teardown_all_at_exit() {
    // Unwinding out of an `extern "C"` function would abort; nothing here should panic anyway.
    let _ = std::panic::catch_unwind(|| {
        let live = std::mem::take(&mut *lock(&LIVE));
        for teardown in live {
            lock(&teardown).run();
        }
    });
}

/// A server's directory and its cleanup: started before the server, run on `Drop`, at process
/// exit, or by the watchdog when the test process dies.
struct Registration {
    dir: PathBuf,
    teardown: Arc<Mutex<Teardown>>,
}

impl Registration {
    /// Spawns the watchdog for `dir`. `stop` is shell code that stops the server; it may use
    /// `$pid`, the last id given to [`Registration::attach_server`] (0 if none).
    fn new(dir: &Path, stop: &str) -> Result<Registration, String> {
        static AT_EXIT: Once = Once::new();
        AT_EXIT.call_once(|| {
            // SAFETY: registers a plain function without arguments, as atexit expects.
            if unsafe { atexit(teardown_all_at_exit) } != 0 {
                eprintln!("warning: atexit failed; test servers are stopped by their watchdogs");
            }
        });
        let dir_str = dir
            .to_str()
            .ok_or_else(|| format!("temporary directory {} is not UTF-8", dir.display()))?;
        let cleanup = CLEANUP
            .replace("@DIR@", &shell_quote(dir_str))
            .replace("@STOP@", stop);
        let script = format!("{WATCHDOG}{cleanup}");
        let spawned = Command::new("/bin/sh")
            .arg("-c")
            .arg(&script)
            .arg("stage-it-watchdog")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Out of the test's process group, so that Ctrl-C or a runner's group kill leaves
            // the watchdog alive to clean up.
            .process_group(0)
            .spawn();
        let mut watchdog = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = fs::remove_dir_all(dir);
                return Err(format!("cannot start the cleanup watchdog (/bin/sh): {e}"));
            }
        };
        let watchdog_stdin = watchdog.stdin.take();
        let teardown = Arc::new(Mutex::new(Teardown {
            dir: dir.to_path_buf(),
            cleanup,
            pid: 0,
            group: 0,
            watchdog: Some(watchdog),
            watchdog_stdin,
            server: None,
            done: false,
        }));
        lock(&LIVE).push(Arc::clone(&teardown));
        Ok(Registration {
            dir: dir.to_path_buf(),
            teardown,
        })
    }

    /// Runs a start-up helper (initdb, ...) to completion in a process group of its own, which
    /// the watchdog kills if the test process dies meanwhile (Ctrl-C does not reach it either).
    fn run_helper(&self, cmd: &mut Command) -> std::io::Result<Output> {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()?;
        lock(&self.teardown).send(Var::Group, child.id());
        let output = child.wait_with_output();
        lock(&self.teardown).send(Var::Group, 0);
        output
    }

    /// Hands a server process started by the test process over to the teardown.
    fn attach_server(&self, server: Child) {
        let mut teardown = lock(&self.teardown);
        teardown.send(Var::Pid, server.id());
        teardown.server = Some(server);
    }

    /// Whether the attached server process has exited (it is then reaped and forgotten).
    fn server_exit_status(&self) -> Option<std::process::ExitStatus> {
        let mut teardown = lock(&self.teardown);
        let status = match teardown.server.as_mut().map(Child::try_wait) {
            Some(Ok(Some(status))) => status,
            _ => return None,
        };
        teardown.server = None;
        teardown.send(Var::Pid, 0);
        Some(status)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        lock(&LIVE).retain(|t| !Arc::ptr_eq(t, &self.teardown));
        lock(&self.teardown).run();
    }
}
