//! The `refit` binary: the main job on the demo data, CSV input, errors.

use std::process::Command;

fn refit(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_refit"))
        .args(args)
        .current_dir(dir)
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the binary runs")
}

#[test]
fn run_on_the_demo_stream_prints_a_json_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = refit(dir.path(), &["run", "--rows", "20000", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "samples",
        "updates",
        "skipped",
        "checkpoints",
        "drift_alerts",
        "lr_changes",
        "metric",
        "windows",
        "rows_per_s",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    assert_eq!(v["samples"], 20_000);
    assert_eq!(v["updates"], 20);
    assert_eq!(v["metric"]["name"], "auc");
    // The covariate shift raises the rate: stable -> moderate -> severe.
    let severities: Vec<&str> = v["lr_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["severity"].as_str().unwrap())
        .collect();
    assert!(severities.contains(&"severe"), "{severities:?}");
    // Checkpoints on disk, the last five kept.
    let kept = std::fs::read_dir(dir.path().join("models/churn_online"))
        .unwrap()
        .count();
    assert_eq!(kept, 5);
}

#[test]
fn run_reads_a_csv_file_and_names_bad_cells() {
    let dir = tempfile::tempdir().unwrap();
    let demo = refit(
        dir.path(),
        &[
            "demo",
            "--stream",
            "churn",
            "--rows",
            "3000",
            "--out",
            "churn.csv",
        ],
    );
    assert!(demo.status.success());
    let out = refit(
        dir.path(),
        &["run", "--input", "churn.csv", "--label", "label", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["samples"], 3_000);

    std::fs::write(dir.path().join("bad.csv"), "a,b,label\n1,2,0\n1,x,1\n").unwrap();
    let out = refit(
        dir.path(),
        &["run", "--input", "bad.csv", "--label", "label"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv, line 3, column 2 (`b`): `x` is not a number"),
        "{err}"
    );

    let out = refit(
        dir.path(),
        &["run", "--input", "bad.csv", "--label", "churned"],
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no label column `churned`"));

    std::fs::write(dir.path().join("ragged.csv"), "a,b,label\n1,2,0\n1,1\n").unwrap();
    let out = refit(
        dir.path(),
        &["run", "--input", "ragged.csv", "--label", "label"],
    );
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("ragged.csv, line 3: 2 fields where the header has 3")
    );
}

#[test]
fn bad_config_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[online]\nmin_samples_per_updat = 5\n",
    )
    .unwrap();
    let out = refit(dir.path(), &["run", "--rows", "100"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown field `min_samples_per_updat`"),
        "{err}"
    );
}
