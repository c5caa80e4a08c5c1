//! `deploy/k8s/` checked offline: `kubernetes-validate --strict` against the Kubernetes
//! schemas (from the test virtual environment), and what a schema cannot check — the Job is
//! Indexed with one committer index after the shards, pods never restart in place, exit
//! code 2 fails its index, and each index runs the right `stage` command.

use std::path::{Path, PathBuf};
use std::process::Command;

fn venv_bin(name: &str) -> PathBuf {
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    let p = Path::new(&home)
        .join(".cache/stage/test-venv/bin")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/install-test-deps.sh",
        p.display()
    );
    p
}

fn deploy() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into())
        .join("deploy/k8s")
}

fn validate(files: &[PathBuf]) -> (bool, String) {
    let out = Command::new(venv_bin("kubernetes-validate"))
        .args(["--strict", "--kubernetes-version", "1.33"])
        .args(files)
        .output()
        .expect("kubernetes-validate runs");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text)
}

/// The YAML document as JSON, through the venv's PyYAML.
fn as_json(file: &Path) -> serde_json::Value {
    let out = Command::new(venv_bin("python"))
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(file)
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_manifests_pass_the_kubernetes_schemas_and_a_broken_one_does_not() {
    let files: Vec<PathBuf> = ["configmap.yaml", "secret.yaml", "job.yaml", "cronjob.yaml"]
        .iter()
        .map(|f| deploy().join(f))
        .collect();
    let (ok, text) = validate(&files);
    assert!(ok, "{text}");
    // The check can fail: a misspelt field is refused.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("job.yaml");
    let job = std::fs::read_to_string(deploy().join("job.yaml")).unwrap();
    std::fs::write(&broken, job.replace("completionMode:", "completionMod:")).unwrap();
    let (ok, text) = validate(&[broken]);
    assert!(!ok, "a misspelt field passed: {text}");
}

#[test]
fn the_indexed_job_has_a_committer_after_its_shards() {
    let job = as_json(&deploy().join("job.yaml"));
    let cron = as_json(&deploy().join("cronjob.yaml"));
    for spec in [&job["spec"], &cron["spec"]["jobTemplate"]["spec"]] {
        assert_eq!(spec["completionMode"], "Indexed");
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Never");
        let c = &pod["containers"][0];
        let shards: u64 = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == "SHARDS")
            .unwrap()["value"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            spec["completions"],
            shards + 1,
            "N shard indexes and one committer"
        );
        assert!(spec["backoffLimitPerIndex"].as_u64().unwrap() >= 1);
        let rule = &spec["podFailurePolicy"]["rules"][0];
        assert_eq!(rule["action"], "FailIndex");
        assert_eq!(rule["onExitCodes"]["values"], serde_json::json!([2]));
        let script = c["args"][0].as_str().unwrap();
        for needed in [
            "stage plan --config /etc/stage/nightly.ini --shards \"$SHARDS\" --run-key \"$JOB_NAME\"",
            "--shard \"$SHARDS\" --no-load",
            "stage commit --config /etc/stage/nightly.ini --run-key \"$JOB_NAME\" --wait",
            "\"$JOB_COMPLETION_INDEX\" -lt \"$SHARDS\"",
        ] {
            assert!(script.contains(needed), "missing {needed:?} in {script}");
        }
    }
    assert_eq!(cron["spec"]["concurrencyPolicy"], "Forbid");
}
