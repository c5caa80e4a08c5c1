//! Incremental runs between real servers: PostgreSQL → PostgreSQL, MariaDB → MariaDB and
//! MariaDB → PostgreSQL, the staging table compared with the source row by row (both
//! ways) after every run; a transaction that commits late, with and without the settle
//! time; a run killed between its load and its commit.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::servers::Db;
use crate::common::{spawn, stage, write};

fn ini(dir: &Path, src: &Db, dst: &Db, settle: u64) -> PathBuf {
    write(
        dir,
        "i.ini",
        &format!(
            "{}{}[settings]\nSRC_TABLES = items\nWRITE_MODE = merge\n\n[table:items]\nSYNC_MODE = incremental\nINCREMENTAL_COLUMN = updated_at\nINCREMENTAL_SETTLE_SECONDS = {settle}\n",
            src.section("SRC"),
            dst.section("DST")
        ),
    )
}

/// Runs `stage` and returns the rows it reports for `items`.
fn rows_read(dir: &Path, cfg: &Path) -> u64 {
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with("ok      items: "))
        .unwrap_or_else(|| panic!("{}", r.all()));
    line["ok      items: ".len()..]
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn create(src: &Db) {
    src.exec(&format!(
        "CREATE TABLE items (id INT PRIMARY KEY, name VARCHAR(50), updated_at {})",
        src.ts_type()
    ));
}

fn five_runs(src: Db, dst: Db) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    create(&src);
    src.exec(
        "INSERT INTO items VALUES (1, 'a', '2024-01-01 10:00:00.000001'), \
         (2, 'b', '2024-01-01 10:00:00.000002'), (3, 'c', '2024-01-01 10:00:00.000002')",
    );
    let cfg = ini(dir, &src, &dst, 0);
    // 1: every row; two share the window's upper edge.
    assert_eq!(rows_read(dir, &cfg), 3);
    assert_eq!(dst.items(), src.items());
    assert_eq!(dst.watermark(), ["2024-01-01 10:00:00.000002"]);
    // 2: nothing new: nothing read, the watermark stays.
    assert_eq!(rows_read(dir, &cfg), 0);
    assert_eq!(dst.watermark(), ["2024-01-01 10:00:00.000002"]);
    // 3: one microsecond after the watermark; the edge rows are not read again.
    src.exec("INSERT INTO items VALUES (4, 'd', '2024-01-01 10:00:00.000003')");
    src.exec("UPDATE items SET name = 'A', updated_at = '2024-01-02 00:00:00.5' WHERE id = 1");
    assert_eq!(rows_read(dir, &cfg), 2);
    assert_eq!(dst.items(), src.items());
    // 4: an update and an insert with one new value.
    src.exec("UPDATE items SET name = 'B', updated_at = '2024-01-03 00:00:00' WHERE id = 2");
    src.exec("INSERT INTO items VALUES (5, 'e', '2024-01-03 00:00:00')");
    assert_eq!(rows_read(dir, &cfg), 2);
    assert_eq!(dst.items(), src.items());
    // 5: two updates of old rows and one insert.
    src.exec(
        "UPDATE items SET name = 'C', updated_at = '2024-01-04 00:00:00.999999' WHERE id IN (3, 4)",
    );
    src.exec("INSERT INTO items VALUES (6, 'f', '2024-01-04 00:00:00.999999')");
    assert_eq!(rows_read(dir, &cfg), 3);
    assert_eq!(dst.items(), src.items());
    let wm = dst.watermark();
    assert!(wm[0].starts_with("2024-01-04 00:00:00.999999"), "{wm:?}");
}

#[test]
fn five_incremental_runs_postgres_to_postgres() {
    five_runs(Db::pg("inc_src"), Db::pg("inc_dst"));
}

#[test]
fn five_incremental_runs_mariadb_to_mariadb() {
    five_runs(Db::maria("inc_src"), Db::maria("inc_dst"));
}

#[test]
fn five_incremental_runs_mariadb_to_postgres() {
    five_runs(Db::maria("inc_src"), Db::pg("inc_dst"));
}

/// A transaction on the source that stays open until `commit`.
enum Open {
    Pg(Box<postgres::Client>),
    Maria(mysql::Conn),
}

impl Open {
    fn begin(src: &Db, sql: &str) -> Open {
        match src {
            Db::Pg(db) => {
                let mut c = crate::support::pg().client(db);
                c.batch_execute(&format!("BEGIN; {sql}")).unwrap();
                Open::Pg(Box::new(c))
            }
            Db::Maria(db) => {
                use mysql::prelude::Queryable;
                let mut c = mysql::Conn::new(
                    mysql::Opts::from_url(&crate::support::mariadb().url(db)).unwrap(),
                )
                .unwrap();
                c.query_drop("SET time_zone = '+00:00'").unwrap();
                c.query_drop("START TRANSACTION").unwrap();
                c.query_drop(sql).unwrap();
                Open::Maria(c)
            }
        }
    }

    fn commit(self) {
        match self {
            Open::Pg(mut c) => c.batch_execute("COMMIT").unwrap(),
            Open::Maria(mut c) => {
                use mysql::prelude::Queryable;
                c.query_drop("COMMIT").unwrap()
            }
        }
    }
}

/// A row whose `updated_at` is taken before a committed row's but which commits after the
/// run: with `settle` 0 the run's window passes it by for good; with a settle time longer
/// than the transaction, the next run picks it up.
fn late_commit(src: Db, dst: Db, settle: u64) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    create(&src);
    let now = src.now();
    src.exec("INSERT INTO items VALUES (1, 'old', '2024-01-01 00:00:00')");
    let cfg = ini(dir, &src, &dst, settle);
    assert_eq!(rows_read(dir, &cfg), 1);
    let late = Open::begin(
        &src,
        &format!("INSERT INTO items VALUES (100, 'late', {now})"),
    );
    std::thread::sleep(Duration::from_millis(300));
    src.exec(&format!("INSERT INTO items VALUES (2, 'on time', {now})"));
    let first = rows_read(dir, &cfg);
    late.commit();
    std::thread::sleep(Duration::from_millis(settle * 1000 + 500));
    let second = rows_read(dir, &cfg);
    let picked = dst.items() == src.items();
    if settle == 0 {
        assert_eq!(
            (first, second),
            (1, 0),
            "the row on time in the first run, nothing after"
        );
    } else {
        assert_eq!(
            (first, second),
            (0, 2),
            "both rows wait for the settle time, then come together"
        );
    }
    picked
}

#[test]
fn a_late_commit_is_picked_up_with_the_settle_time_and_lost_without_it_postgres() {
    assert!(
        !late_commit(Db::pg("late_src"), Db::pg("late_dst"), 0),
        "without settle the late row is lost"
    );
    assert!(
        late_commit(Db::pg("late_src"), Db::pg("late_dst"), 2),
        "with settle it arrives"
    );
}

#[test]
fn a_late_commit_is_picked_up_with_the_settle_time_and_lost_without_it_mariadb() {
    assert!(
        !late_commit(Db::maria("late_src"), Db::maria("late_dst"), 0),
        "without settle the late row is lost"
    );
    assert!(
        late_commit(Db::maria("late_src"), Db::maria("late_dst"), 2),
        "with settle it arrives"
    );
}

fn killed_before_commit(src: Db, dst: Db) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    create(&src);
    src.exec(
        "INSERT INTO items VALUES (1, 'a', '2024-01-01 00:00:00'), (2, 'b', '2024-01-02 00:00:00')",
    );
    let cfg = ini(dir, &src, &dst, 0);
    assert_eq!(rows_read(dir, &cfg), 2);
    let before = dst.items();
    let mark = dst.watermark();
    src.exec("UPDATE items SET name = 'B', updated_at = '2024-01-03 00:00:00' WHERE id = 2");
    src.exec("INSERT INTO items VALUES (3, 'c', '2024-01-03 00:00:00')");
    let mut run = spawn(
        dir,
        &["--config", cfg.to_str().unwrap()],
        &[("STAGE_FAULT_PAUSE", "swap")],
    );
    run.wait_paused("swap");
    run.signal("KILL");
    let (code, _) = run.finish();
    assert_eq!(code, 137);
    assert_eq!(dst.items(), before, "the killed merge applied nothing");
    assert_eq!(dst.watermark(), mark, "the watermark did not move");
    assert_eq!(rows_read(dir, &cfg), 2, "the window is read again");
    assert_eq!(dst.items(), src.items());
    assert_eq!(dst.rows("SELECT count(*) FROM items"), ["3"]);
}

#[test]
fn a_run_killed_between_load_and_commit_keeps_the_watermark_postgres() {
    killed_before_commit(Db::pg("kill_src"), Db::pg("kill_dst"));
}

#[test]
fn a_run_killed_between_load_and_commit_keeps_the_watermark_mariadb() {
    killed_before_commit(Db::maria("kill_src"), Db::maria("kill_dst"));
}

/// A source table without a key, merged by `PRIMARY_KEY`: a key twice in one window ends as
/// its last version (by the cursor); without `PRIMARY_KEY` the run is a configuration error.
fn duplicate_keys(src: Db, dst: Db) {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    src.exec(&format!(
        "CREATE TABLE items (id INT NOT NULL, name VARCHAR(50), updated_at {})",
        src.ts_type()
    ));
    src.exec(
        "INSERT INTO items VALUES (1, 'first', '2024-01-01 00:00:01'), (1, 'last', '2024-01-01 00:00:03'), \
         (1, 'middle', '2024-01-01 00:00:02'), (2, 'only', '2024-01-01 00:00:01')",
    );
    let cfg = ini(dir, &src, &dst, 0);
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 2, "{}", r.all());
    assert!(
        r.all()
            .contains("[table:items] WRITE_MODE = merge needs a key"),
        "{}",
        r.all()
    );
    let text = std::fs::read_to_string(&cfg).unwrap() + "PRIMARY_KEY = id\n";
    std::fs::write(&cfg, text).unwrap();
    assert_eq!(rows_read(dir, &cfg), 4);
    assert_eq!(
        dst.items(),
        [
            "1|last|2024-01-01 00:00:03.000000",
            "2|only|2024-01-01 00:00:01.000000"
        ]
    );
}

#[test]
fn a_key_twice_in_one_window_merges_to_its_last_version_postgres() {
    duplicate_keys(Db::pg("dup_src"), Db::pg("dup_dst"));
}

#[test]
fn a_key_twice_in_one_window_merges_to_its_last_version_mariadb() {
    duplicate_keys(Db::maria("dup_src"), Db::maria("dup_dst"));
}
