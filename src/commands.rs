//! One function per subcommand; each returns the process exit code.

use std::io::IsTerminal;
use std::path::Path;

use crate::archive::{Manifest, Store};
use crate::cli::{Cli, Command, DemoArgs, ManifestArgs, PlanArgs, RunArgs, StatusArgs};
use crate::config::{Config, Driver, Needs};
use crate::error::{Error, Result};
use crate::load;
use crate::monitoring;
use crate::progress::Progress;
use crate::source::{self, TableRef};
use crate::transfer::{self, Finish, TableOutcome};

mod history;
mod plan_sync;
mod prune;
mod query;
mod shards;
mod state;
mod tell;

/// Runs the parsed command line. Errors that end the whole run come back as `Err`.
pub fn dispatch(cli: Cli) -> Result<i32> {
    // rustls' process-wide provider is aws-lc-rs (the MySQL driver takes the default one).
    // The `cloud` feature's HTTP client brings rustls' `ring` too, and with both present
    // rustls no longer picks a default by itself.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    match cli.command {
        None => run(&cli.run, Finish::Load),
        Some(Command::Run(a)) => run(&a, Finish::Load),
        Some(Command::Dump(a)) => run(&a, Finish::DumpOnly),
        Some(Command::Plan(a)) => plan(&a),
        Some(Command::Check(a)) => check(a.config.as_deref()),
        Some(Command::Load(a)) => load_cmd(&a),
        Some(Command::Verify(a)) => verify(&a),
        Some(Command::Demo(a)) => demo(&a),
        Some(Command::Status(a)) => status(&a),
        Some(Command::Commit(a)) => shards::commit(&a),
        Some(Command::State(a)) => state::state(&a),
        Some(Command::History(a)) => history::run(&a),
        Some(Command::Prune(a)) => prune::run(&a),
        Some(Command::Query(a)) => query::query(&a),
        Some(Command::Diff(a)) => query::diff(&a),
    }
}

impl crate::cli::ConfigArg {
    fn as_deref(&self) -> Option<&Path> {
        self.config.as_deref()
    }
}

/// Loads the configuration, sets up logging and logs the effective settings.
pub fn setup(ini: Option<&Path>, needs: Needs) -> Result<Config> {
    let mut cfg = Config::load(ini, needs)?;
    crate::logging::init(&cfg.logging)?;
    log_settings(&cfg);
    ask_passwords(&mut cfg)?;
    Ok(cfg)
}

fn log_settings(cfg: &Config) {
    if let Some(p) = &cfg.ini_path {
        tracing::info!(config = %p.display(), "stage {}", env!("CARGO_PKG_VERSION"));
    } else {
        tracing::info!(
            config = "environment only",
            "stage {}",
            env!("CARGO_PKG_VERSION")
        );
    }
    for section in [
        crate::config::SOURCE,
        crate::config::DESTINATION,
        crate::config::SETTINGS,
        crate::config::LOGGING,
        crate::config::MONITORING,
        crate::config::ARCHIVE,
    ] {
        let line: Vec<String> = cfg
            .effective
            .iter()
            .filter(|e| {
                e.section == section
                    && !(e.shown.is_empty() && e.origin == crate::config::Origin::Default)
            })
            .map(|e| format!("{}={} ({})", e.key, e.shown, e.origin.as_str()))
            .collect();
        tracing::info!("[{section}] {}", line.join(", "));
    }
    for (name, o) in &cfg.table_sections {
        let line: Vec<String> = o
            .shown
            .iter()
            .map(|(k, v)| format!("{k}={v} (ini)"))
            .collect();
        tracing::info!("[table:{name}] {}", line.join(", "));
    }
    for k in &cfg.unknown_keys {
        tracing::warn!("{k} is not a known key and is ignored (a typo?)");
    }
}

/// `ASK_PASSWORD_IN_CLI`: prompts without echo for a missing password of a server database.
fn ask_passwords(cfg: &mut Config) -> Result<()> {
    if !cfg.settings.ask_password {
        return Ok(());
    }
    for ep in [&mut cfg.source, &mut cfg.destination] {
        if ep.password.is_some() || ep.driver == Driver::Sqlite {
            continue;
        }
        if !std::io::stdin().is_terminal() {
            return Err(Error::config(format!(
                "[settings] ASK_PASSWORD_IN_CLI is on but there is no terminal to ask on; set {}",
                ep.key("PASSWORD")
            )));
        }
        let who = ep.username.clone().unwrap_or_default();
        let prompt = format!(
            "Password for {who} on the {} ({}): ",
            ep.side.name(),
            ep.describe()
        );
        let pw = rpassword::prompt_password(prompt)
            .map_err(|e| Error::config(format!("reading the password: {e}")))?;
        ep.password = Some(crate::config::Secret::new(pw));
    }
    Ok(())
}

fn run(args: &RunArgs, finish: Finish) -> Result<i32> {
    if args.shard.is_some() || args.run_id.run_id.is_some() || args.run_id.run_key.is_some() {
        return shards::run_shard(args, finish);
    }
    let mut cfg = setup(args.config.as_deref(), Needs { source: true })?;
    if let Some(t) = &args.tables {
        cfg.override_tables(t)?;
    }
    if let Some(m) = args.mode {
        cfg.override_mode(m.into());
    }
    cfg.settings.full_refresh = args.full_refresh;
    let started = chrono::Utc::now();
    let clock = std::time::Instant::now();
    let summary = match transfer::run(&cfg, finish) {
        Ok(s) => s,
        Err(e) => {
            // The run ended before its tables (unreachable database, bad setting): it is
            // still told about, without the destination.
            let failed = tell::RunEnd::failed(&cfg, started, clock, &e);
            monitoring::tell(&cfg.monitoring, &failed);
            return Err(e);
        }
    };
    if let Some(m) = &summary.manifest {
        println!("manifest: {m}");
    }
    let code = report(
        &summary.tables,
        match finish {
            Finish::Load => "staged",
            Finish::DumpOnly => "dumped",
        },
    );
    let ended = tell::RunEnd::of(&cfg, started, clock, &summary, code);
    monitoring::tell(&cfg.monitoring, &ended);
    Ok(code)
}

/// Prints one line per table and returns the run's exit code ([`transfer::exit_code`]).
pub(crate) fn report(tables: &[TableOutcome], verb: &str) -> i32 {
    let failed = tables.iter().filter(|t| t.error.is_some()).count();
    for t in tables {
        match &t.error {
            None => println!("ok      {}: {} rows {verb}", t.table, t.rows),
            Some(e) => println!("FAILED  {}: {e}", t.table),
        }
    }
    println!(
        "{} of {} tables {verb}{}",
        tables.len() - failed,
        tables.len(),
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    transfer::exit_code(tables)
}

fn plan(args: &PlanArgs) -> Result<i32> {
    if args.shards.is_some() || args.run_id.run_id.is_some() || args.run_id.run_key.is_some() {
        return shards::plan(args);
    }
    let mut cfg = setup(args.config.as_deref(), Needs { source: true })?;
    if let Some(t) = &args.tables {
        cfg.override_tables(t)?;
    }
    let mut src = source::open(&cfg.source)?;
    let dst_driver = cfg.destination.driver;
    let mut sound = true;
    println!(
        "plan: {} → {} ({} mode, WRITE_MODE={})",
        cfg.source.describe(),
        cfg.destination.describe(),
        cfg.settings.mode.name(),
        cfg.settings.write_mode.name()
    );
    for listed in &cfg.settings.tables {
        let table = TableRef::new(listed, cfg.source.schema.as_deref());
        let ts = cfg.table(listed);
        let target = match &cfg.destination.schema {
            Some(s) if dst_driver != Driver::Sqlite => format!("{s}.{}", ts.staging),
            _ => ts.staging.clone(),
        };
        let info = match src
            .describe(&table)
            .and_then(|i| i.check_staging_names().map(|_| i))
        {
            Ok(i) => i,
            Err(e) => {
                sound = false;
                println!("\ntable {}: ERROR {e}", table.display());
                continue;
            }
        };
        let rows = match src.count_rows(&info) {
            Ok(n) => format!("{n} rows"),
            Err(e) => format!("row count unavailable: {e}"),
        };
        println!("\ntable {} → {target} ({rows})", table.display());
        if let Some(o) = cfg.table_sections.get(&listed.to_ascii_lowercase()) {
            let set: Vec<String> = o.shown.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("  [table:{listed}]: {}", set.join(", "));
        }
        if !ts.enabled {
            println!("  skipped by the run: ENABLED = false");
        }
        if !plan_sync::print(&cfg, src.as_mut(), &info, &ts) {
            sound = false;
        }
        let mut lines = vec![[
            "column".to_string(),
            "source type".into(),
            "arrow type".into(),
            "staging type".into(),
        ]];
        let mut notes = Vec::new();
        let fields = info.schema();
        for (c, field) in info.columns.iter().zip(fields.fields()) {
            let ddl = match load::field_ddl_type(dst_driver, field) {
                Ok(d) => d,
                Err(e) => {
                    notes.push(format!("column {}: {e}", c.name));
                    "?".into()
                }
            };
            if let Some(n) = &c.note {
                notes.push(format!("column {}: {n}", c.name));
            }
            lines.push([
                c.name.to_lowercase(),
                c.source_type.clone(),
                c.arrow_type.to_string(),
                ddl,
            ]);
        }
        for l in crate::text_table::aligned(&lines) {
            println!("  {l}");
        }
        for n in &notes {
            sound = false;
            println!("  lossy or unsupported: {n}");
        }
    }
    println!(
        "\n{}",
        if sound {
            "plan is sound"
        } else {
            "plan has problems (see above)"
        }
    );
    Ok(if sound { 0 } else { 1 })
}

fn check(ini: Option<&Path>) -> Result<i32> {
    let cfg = setup(ini, Needs { source: true })?;
    let mut src = source::open(&cfg.source)?;
    println!(
        "source      {}: {}",
        cfg.source.describe(),
        src.server_version()?
    );
    let mut dst = load::open(&cfg.destination)?;
    println!(
        "destination {}: {}",
        cfg.destination.describe(),
        dst.server_version()?
    );
    Ok(0)
}

fn open_manifest(args: &ManifestArgs) -> Result<(Config, Manifest, Store)> {
    let cfg = setup(args.config.as_deref(), Needs { source: false })?;
    let (manifest, store) = Manifest::locate(&args.manifest, &cfg.archive)?;
    Ok((cfg, manifest, store))
}

fn load_cmd(args: &ManifestArgs) -> Result<i32> {
    let (cfg, manifest, store) = open_manifest(args)?;
    crate::interrupt::install();
    let dst = load::open(&cfg.destination)?;
    let progress = Progress::new(manifest.tables.len());
    let shown = args.manifest.display().to_string();
    let summary = transfer::load_manifest(&cfg, &manifest, &shown, &store, dst, &progress);
    Ok(report(&summary.tables, "loaded"))
}

fn verify(args: &ManifestArgs) -> Result<i32> {
    let (cfg, manifest, store) = open_manifest(args)?;
    let mut dst = load::open(&cfg.destination)?;
    let outcomes = transfer::verify(
        &manifest,
        &store,
        Some(dst.as_mut()),
        cfg.destination.schema.as_deref(),
    );
    Ok(report(&outcomes, "verified"))
}

fn demo(args: &DemoArgs) -> Result<i32> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::config(format!("--dir {}: cannot create it: {e}", dir.display())))?;
    let source_db = dir.join("municipal.sqlite");
    if !source_db.exists() {
        let counts = crate::demo::create_demo_source(&source_db).map_err(|e| {
            Error::Check(format!(
                "creating the demo source {}: {e:#}",
                source_db.display()
            ))
        })?;
        let total: u64 = counts.iter().map(|(_, n)| n).sum();
        println!(
            "demo source created: {} ({} tables, {total} rows)",
            source_db.display(),
            counts.len()
        );
    }
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let vars = [
        ("SRC_DRIVER", "sqlite".to_string()),
        ("SRC_DB", path(&source_db)),
        ("DST_DRIVER", "sqlite".to_string()),
        ("DST_DB", path(&dir.join("staging.sqlite"))),
        ("SRC_TABLES", crate::demo::DEMO_TABLES.join(",")),
        ("TRANSFER_MODE", "DUMP".to_string()),
        ("OUTPUT_DIR", path(&dir.join("data"))),
        ("CLEANUP_PARQUET_FILES", "false".to_string()),
        ("SRC_CHUNK_SIZE", "10000".to_string()),
    ];
    let env = move |k: &str| {
        vars.iter()
            .find(|(name, _)| *name == k)
            .map(|(_, v)| v.clone())
    };
    let cfg = Config::from_parts(
        crate::config::RawIni::default(),
        &env,
        Needs { source: true },
    )?;
    crate::logging::init(&cfg.logging)?;
    log_settings(&cfg);
    let summary = transfer::run(&cfg, Finish::Load)?;
    if let Some(m) = &summary.manifest {
        println!("manifest: {m}");
    }
    let code = report(&summary.tables, "staged");
    println!(
        "staging database: {}\narchive: {}",
        dir.join("staging.sqlite").display(),
        dir.join("data").display()
    );
    Ok(code)
}

/// `stage status`: the run log's last row per table, or one run's rows.
fn status(args: &StatusArgs) -> Result<i32> {
    let cfg = setup(args.config.as_deref(), Needs { source: false })?;
    if !cfg.settings.run_log {
        return Err(Error::config(
            "[settings] RUN_LOG is off, so there is no run log to show (set RUN_LOG = true to keep one)",
        ));
    }
    let status = crate::runlog::status::read(&cfg, args.run.as_deref())?;
    if args.json {
        println!("{}", status.to_json());
    } else if !status.exists {
        println!("no run has been logged yet in {}", status.location);
    } else if let (Some(run), None) = (&args.run, &status.run) {
        println!("run {run} is not in the run log ({})", status.location);
    } else {
        print!("{}", status.to_text());
    }
    let unknown_run = args.run.is_some() && status.run.is_none();
    Ok(if unknown_run { 1 } else { 0 })
}
