//! `[monitoring]` through the real binary: after a run with one failing table the summary
//! JSON, the notification command's input and the Prometheus metrics say what happened; a
//! run whose source cannot be opened still writes them.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{sqlite_ini, stage, write};

fn source(dir: &Path) -> String {
    let db = dir.join("src.sqlite");
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute_batch(
        "CREATE TABLE good (id INTEGER NOT NULL, v TEXT);
         INSERT INTO good VALUES (1, 'a'), (2, 'b'), (3, 'c');",
    )
    .unwrap();
    db.display().to_string()
}

/// `name{labels} value` samples of a Prometheus text file; panics on a malformed line.
fn parse_metrics(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("series and value");
        let open = series.find('{').expect("labels");
        assert!(series.ends_with('}'), "{line}");
        let name = &series[..open];
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        for pair in series[open + 1..series.len() - 1].split("\",") {
            let (k, v) = pair.split_once("=\"").expect("label=\"value\"");
            assert!(
                k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "{line}"
            );
            assert!(
                !v.trim_end_matches('"').contains('"') || v.contains("\\\""),
                "{line}"
            );
        }
        out.insert(series.to_string(), value.parse::<f64>().expect("a number"));
    }
    out
}

#[test]
fn a_partial_run_is_summarised_notified_and_measured() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = source(dir);
    let dst = dir.join("dst.sqlite");
    let ini = sqlite_ini(
        &src,
        &dst.display().to_string(),
        &format!(
            "SRC_TABLES = good, missing\nTRANSFER_MODE = DUMP\nOUTPUT_DIR = {out}\n\n[monitoring]\nSUMMARY_JSON = {out}/summary.json\nMETRICS_FILE = {out}/metrics/stage.prom\nNOTIFY_COMMAND = cat > {out}/notified.json\n",
            out = dir.join("out").display()
        ),
    );
    let cfg = write(dir, "nightly.ini", &ini);
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 1, "{}", r.all());

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "partial");
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(summary["job"], "nightly");
    assert_eq!(summary["mode"], "DUMP");
    let tables = summary["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 2);
    assert_eq!(tables[0]["table"], "good");
    assert_eq!(tables[0]["rows"], 3);
    assert_eq!(tables[0]["status"], "ok");
    assert_eq!(tables[1]["table"], "missing");
    assert_eq!(tables[1]["status"], "failed");
    assert!(
        tables[1]["error"].as_str().unwrap().contains("missing"),
        "{summary}"
    );
    // The command got the same JSON on its stdin.
    let notified: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/notified.json")).unwrap()).unwrap();
    assert_eq!(notified, summary);

    let text = std::fs::read_to_string(dir.join("out/metrics/stage.prom")).unwrap();
    let m = parse_metrics(&text);
    assert_eq!(m["stage_run_success{job=\"nightly\"}"], 0.0);
    assert_eq!(
        m["stage_table_success{job=\"nightly\",table=\"good\"}"],
        1.0
    );
    assert_eq!(
        m["stage_table_success{job=\"nightly\",table=\"missing\"}"],
        0.0
    );
    assert_eq!(m["stage_table_rows{job=\"nightly\",table=\"good\"}"], 3.0);
    assert!(m["stage_run_duration_seconds{job=\"nightly\"}"] > 0.0);
    assert!(!m.contains_key("stage_last_success_timestamp_seconds{job=\"nightly\"}"));

    // A good run: success, a last-success time; NOTIFY_ON=failure sends nothing.
    std::fs::remove_file(dir.join("out/notified.json")).unwrap();
    let good = ini.replace("SRC_TABLES = good, missing", "SRC_TABLES = good");
    let cfg = write(dir, "nightly.ini", &good);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0, "{}", r.all());
    let m = parse_metrics(&std::fs::read_to_string(dir.join("out/metrics/stage.prom")).unwrap());
    assert_eq!(m["stage_run_success{job=\"nightly\"}"], 1.0);
    let last = m["stage_last_success_timestamp_seconds{job=\"nightly\"}"];
    assert!(
        last >= before.floor() && last < before + 60.0,
        "{last} vs {before}"
    );
    assert!(!dir.join("out/notified.json").exists());

    // A failed run keeps the last success.
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 0);
    let bad = good.replace(&src, &dir.join("nope/none.sqlite").display().to_string());
    let cfg = write(dir, "nightly.ini", &bad);
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 3, "{}", r.all());
    let m = parse_metrics(&std::fs::read_to_string(dir.join("out/metrics/stage.prom")).unwrap());
    assert_eq!(m["stage_run_success{job=\"nightly\"}"], 0.0);
    assert!(m["stage_last_success_timestamp_seconds{job=\"nightly\"}"] >= last);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "failed");
    assert_eq!(summary["exit_code"], 3);
    assert!(
        summary["error"]
            .as_str()
            .unwrap()
            .contains("cannot connect"),
        "{summary}"
    );
    assert!(
        dir.join("out/notified.json").exists(),
        "a failed run notifies"
    );
}

/// One HTTP request read by a test server: its request line and body.
fn serve_once(listener: std::net::TcpListener) -> std::thread::JoinHandle<(String, String)> {
    use std::io::{BufRead, BufReader, Read, Write};
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut request_line = String::new();
        reader.read_line(&mut request_line).unwrap();
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line.trim().is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let mut stream = stream;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .unwrap();
        (request_line, String::from_utf8(body).unwrap())
    })
}

#[test]
fn a_failed_run_is_posted_and_a_refused_post_is_only_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let src = source(dir);
    let dst = dir.join("dst.sqlite");
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = serve_once(listener);
    let ini = |url: &str| {
        sqlite_ini(
            &src,
            &dst.display().to_string(),
            &format!("SRC_TABLES = good, missing\n\n[monitoring]\nNOTIFY_URL = {url}\n"),
        )
    };
    let cfg = write(
        dir,
        "job.ini",
        &ini(&format!("http://127.0.0.1:{port}/hook/T0K3N")),
    );
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(!r.all().contains("T0K3N"), "{}", r.all());
    let (request, body) = server.join().unwrap();
    assert_eq!(request.trim(), "POST /hook/T0K3N HTTP/1.1");
    let posted: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(posted["status"], "partial");
    assert_eq!(posted["tables"][1]["table"], "missing");
    assert_eq!(posted["tables"][1]["status"], "failed");

    // Nobody listens any more: three attempts, one warning naming the host only, and the
    // run's exit code is the run's own.
    let cfg = write(
        dir,
        "job.ini",
        &ini(&format!("http://127.0.0.1:{port}/hook/T0K3N")),
    );
    let r = stage(dir, &["--config", cfg.to_str().unwrap()], &[]);
    assert_eq!(r.code, 1, "{}", r.all());
    assert!(
        r.all().contains(&format!(
            "[monitoring] NOTIFY_URL: POST to http://127.0.0.1:{port} failed 3 times"
        )),
        "{}",
        r.all()
    );
    assert!(!r.all().contains("T0K3N"), "{}", r.all());
}
