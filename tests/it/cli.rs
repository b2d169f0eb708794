//! The `refit` binary: the main job on the demo data, CSV input, errors.

use crate::common::{self, refit};

/// Updates the default schedule makes over `rows` rows (the cold start's,
/// then one per `min_samples_per_update`), the last one by the final flush
/// when rows are left over.
fn scheduled_updates(rows: usize) -> usize {
    let online = refit::config::OnlineConfig::default();
    let (mut learned, mut updates) = (0, 0);
    while learned < rows {
        learned += online.update_size(learned as u64).min(rows - learned);
        updates += 1;
    }
    updates
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
    assert_eq!(v["updates"], scheduled_updates(20_000));
    assert_eq!(v["metric"]["name"], "auc");
    // The covariate shift raises the rate: stable -> moderate -> severe.
    let severities: Vec<&str> = v["lr_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["severity"].as_str().unwrap())
        .collect();
    assert!(severities.contains(&"severe"), "{severities:?}");
    // Checkpoints on disk, the last five written kept (updates that came
    // while one was being written were coalesced); the last update's is
    // among them.
    let names: Vec<String> = std::fs::read_dir(dir.path().join("models/churn_online"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let written = v["checkpoints"].as_u64().unwrap() as usize;
    let kept = written.min(5);
    assert!(written >= 2, "{written}");
    assert_eq!(names.iter().filter(|n| n.ends_with(".refit")).count(), kept);
    // Checkpoints written before the drift reference was built (the
    // first samples) have no sidecar.
    let sidecars = names.iter().filter(|n| n.ends_with(".drift.json")).count();
    assert!(sidecars <= kept, "{names:?}");
    assert!(names.contains(&"manifest.json".to_string()));
    assert_eq!(names.len(), kept + sidecars + 1, "{names:?}");
    let last = format!("churn_online_{:03}", v["updates"].as_u64().unwrap());
    assert!(names.contains(&format!("{last}.refit")), "{names:?}");
    assert!(names.contains(&format!("{last}.drift.json")), "{names:?}");
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

    std::fs::write(dir.path().join("bad.csv"), "a,b,label\n1,2,0\n1,x,\n").unwrap();
    let out = refit(
        dir.path(),
        &["run", "--input", "bad.csv", "--label", "label"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.csv, line 3, column 3 (`label`): the label is empty"),
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

/// A CSV's columns are matched to the configured features by name: a file
/// with its columns in another order runs, and learns what the same file
/// in the configured order learns; a missing column is named.
#[test]
fn csv_columns_are_matched_to_the_configured_features_by_name() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[model]\nfeatures = [\"a\", \"b\"]\n[online]\nmin_samples_per_update = 10\n",
    )
    .unwrap();
    let (mut ordered, mut shuffled) = (String::from("a,b,label\n"), String::from("label,b,a\n"));
    for i in 0..200 {
        let (a, b) = ((i % 7) as f32 / 7.0, (i % 5) as f32 / 5.0);
        let y = u8::from(a > b);
        ordered.push_str(&format!("{a},{b},{y}\n"));
        shuffled.push_str(&format!("{y},{b},{a}\n"));
    }
    std::fs::write(dir.path().join("ordered.csv"), ordered).unwrap();
    std::fs::write(dir.path().join("shuffled.csv"), shuffled).unwrap();
    let run = |file: &str| {
        let out = refit(
            dir.path(),
            &[
                "run", "--input", file, "--label", "label", "--fresh", "--json",
            ],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["metric"]["value"].as_f64().unwrap()
    };
    assert_eq!(run("ordered.csv"), run("shuffled.csv"));
    std::fs::write(dir.path().join("short.csv"), "a,label\n1,0\n").unwrap();
    let out = refit(
        dir.path(),
        &["run", "--input", "short.csv", "--label", "label"],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no column `b`"), "{err}");
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

#[test]
fn drift_compares_two_csv_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = refit::demo::churn(3, 6_000);
    let csv = s.to_csv();
    let lines: Vec<&str> = csv.lines().collect();
    let header = lines[0];
    let write = |name: &str, rows: &[&str]| {
        let mut text = format!("{header}\n");
        for r in rows {
            text.push_str(r);
            text.push('\n');
        }
        std::fs::write(dir.path().join(name), text).unwrap();
    };
    // Rows 0-3000 against rows 3000-6000: the covariate shift (fractions
    // 0.7-0.9 of the stream) moves charges, usage and age.
    write("a.csv", &lines[1..3001]);
    write("b.csv", &lines[3001..]);
    let args = [
        "drift",
        "--reference",
        "a.csv",
        "--current",
        "b.csv",
        "--label",
        "label",
        "--ks",
        "--json",
    ];
    let out = refit(dir.path(), &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let features = v["features"].as_array().unwrap();
    assert_eq!(features.len(), 8);
    let by_name = |n: &str| features.iter().find(|f| f["feature"] == n).unwrap();
    assert_ne!(by_name("age_decades")["severity"], "stable");
    assert_eq!(by_name("tenure_years")["severity"], "stable");
    assert!(by_name("age_decades")["ks"]["p_value"].as_f64().unwrap() < 1e-10);
    assert_ne!(v["severity"], "stable");
    // The human-readable table names every feature.
    let out = refit(dir.path(), &args[..7]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("age_decades") && text.contains("max PSI"),
        "{text}"
    );
    // Mismatched columns: a clear error.
    std::fs::write(dir.path().join("c.csv"), "x,label\n1,0\n").unwrap();
    let out = refit(
        dir.path(),
        &[
            "drift",
            "--reference",
            "a.csv",
            "--current",
            "c.csv",
            "--label",
            "label",
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("column 1 is `tenure_years` vs `x`"), "{err}");
}

#[test]
fn versions_and_rollback_work_on_the_files_refit_run_leaves() {
    let dir = tempfile::tempdir().unwrap();
    // One version per 1 000 rows: the fixed schedule.
    std::fs::write(
        dir.path().join("config.toml"),
        "[online]\ncold_start = false\n",
    )
    .unwrap();
    let out = refit(dir.path(), &["run", "--rows", "6000", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = refit(dir.path(), &["versions", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["active"], "online_006");
    let versions = v["versions"].as_array().unwrap();
    // Six updates; those that came while a checkpoint was being written
    // were coalesced: the first and the last are always written.
    let numbers: Vec<u64> = versions
        .iter()
        .map(|x| x["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers.first(), Some(&1), "{numbers:?}");
    assert_eq!(numbers.last(), Some(&6), "{numbers:?}");
    assert!(numbers.windows(2).all(|w| w[0] < w[1]), "{numbers:?}");
    assert!(versions.iter().all(|x| x["intact"] == true));
    // The parent is the stored version the model continued from.
    let back = numbers[numbers.len() - 2];
    assert_eq!(versions.last().unwrap()["parent"]["number"], back);
    assert!(v["disk_bytes"].as_u64().unwrap() > 0);

    let out = refit(dir.path(), &["rollback", &back.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = refit(dir.path(), &["versions"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.lines()
            .any(|l| l.starts_with(&format!("* online_{back:03}"))),
        "{text}"
    );
    // The next run resumes from that version, and its first checkpoint is 7.
    let out = refit(dir.path(), &["run", "--rows", "1000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("resumed from stored version online_{back:03}")),
        "{text}"
    );
    let out = refit(dir.path(), &["versions", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let last = v["versions"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["version"], "online_007");
    assert_eq!(last["parent"]["number"], back);

    let out = refit(dir.path(), &["rollback", "v9"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("version v9 is not in the store"), "{err}");
}

#[test]
fn run_demo_ctr_prints_triggers_auc_and_ndcg() {
    let dir = tempfile::tempdir().unwrap();
    let out = refit(dir.path(), &["run", "--demo", "ctr", "--sessions", "2000"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // 2 000 pages of 10 clicks, training every 100 new clicks.
    assert!(text.contains("click events 20000 ("), "{text}");
    assert!(
        text.contains("trainings 200 (200 by the threshold of 100 new samples)"),
        "{text}"
    );
    // Every training is served at once; checkpoints coalesce when the
    // disk falls behind the simulation, so at most one per training, the
    // last 5 kept, the newest being the last training's.
    let written: usize = text
        .split("checkpoints written ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{text}"));
    assert!((1..=200).contains(&written), "{text}");
    let kept = written.min(5);
    assert!(
        text.contains(&format!("checkpoints written {written}, kept {kept}")),
        "{text}"
    );
    for line in ["before the shift", "right after it", "at the end"] {
        assert!(text.contains(line), "{text}");
    }
    let files = common::model_files(&dir.path().join("models/ctr_online"));
    assert_eq!(
        files.last().map(String::as_str),
        Some("ctr_model_online_200.refit")
    );
    assert_eq!(files.len(), kept);

    let out = refit(
        dir.path(),
        &[
            "run",
            "--demo",
            "ctr",
            "--sessions",
            "200",
            "--fresh",
            "--json",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["impressions"], 2_000);
    assert!(v["ndcg_before_shift"].as_f64().is_some(), "{v}");
    let out = refit(dir.path(), &["run", "--demo", "ctr", "--sessions", "1"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--sessions must be at least 2"));
}

/// `refit serve` with a config naming no plugin stops with an error whose
/// causes come one per line, and no backtrace even where RUST_BACKTRACE
/// asks for one.
#[test]
fn serve_errors_are_a_chain_of_causes_without_a_backtrace() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[model]\nkind = \"nope\"\nfeatures = [\"a\"]\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_refit"))
        .args(["serve", "--config", "config.toml", "--bind", "127.0.0.1:0"])
        .current_dir(dir.path())
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("starting the agent from config.toml"), "{err}");
    assert!(
        err.contains("  because: unknown model kind `nope`"),
        "{err}"
    );
    assert!(!err.contains("backtrace"), "{err}");
}
