//! Model lifecycle: numbered versions and their manifests, retention,
//! recovery from damaged files, rollback with lineage.

use refit::config::Config;
use refit::store::{Mode, Store, VersionId};
use refit::{Agent, AgentError, demo};

use crate::common;

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 100;
    c
}

fn start(c: Config) -> Agent {
    Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .start()
        .unwrap()
}

fn store(dir: &std::path::Path) -> Store {
    Store::new(dir, "churn", refit::clock::system())
}

/// What stored version `v` predicts for `rows`, from its file.
fn answer_of(dir: &std::path::Path, v: VersionId, rows: &[f32]) -> Vec<f32> {
    let (_, bytes) = store(dir).read_version(v).unwrap();
    refit::plugins::builtin()
        .load(&bytes)
        .unwrap()
        .snapshot()
        .predict(refit::plugins::Batch::new(rows, 8).unwrap().into())
        .unwrap()
}

/// Ingests `updates` batches of 100 rows of `s` from row `from`, one update
/// each.
fn updates(agent: &Agent, s: &demo::DemoStream, from: usize, updates: usize) {
    for k in 0..updates {
        let (a, b) = (from + k * 100, from + (k + 1) * 100);
        agent.ingest(&s.x[a * 8..b * 8], &s.y[a..b]).unwrap();
        agent.sync().unwrap();
    }
}

#[test]
fn twenty_checkpoints_keep_the_last_five_in_files_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.checkpoint_retention = 5;
    let agent = start(c);
    let s = demo::churn(1, 2_000);
    updates(&agent, &s, 0, 20);
    agent.shutdown().unwrap();
    let store = store(dir.path());
    let manifest = store.manifest(Mode::Online).unwrap();
    let numbers: Vec<u64> = manifest.versions.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [16, 17, 18, 19, 20]);
    assert_eq!(manifest.active, Some(VersionId::online(20)));
    assert_eq!(manifest.next, 21);
    let files = common::model_files(&store.dir(Mode::Online));
    assert_eq!(
        files,
        (16..=20)
            .map(|n| format!("churn_online_{n:03}.refit"))
            .collect::<Vec<_>>()
    );
    // Lineage: each checkpoint's parent is the one before it.
    for pair in manifest.versions.windows(2) {
        assert_eq!(pair[1].parent, Some(pair[0].id()));
    }
    let last = &manifest.versions[4];
    assert_eq!(last.samples_seen, 2_000);
    assert_eq!(last.reason, "update");
    assert!(last.metrics.is_some());
    assert_eq!(
        last.file_size,
        std::fs::metadata(store.path(last.id())).unwrap().len()
    );
}

#[test]
fn a_damaged_newest_checkpoint_falls_back_to_the_previous_one() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let s = demo::churn(2, 1_000);
    let agent = start(c.clone());
    updates(&agent, &s, 0, 4);
    let fourth = answer_of(dir.path(), VersionId::online(4), &s.x[..80]);
    agent.shutdown().unwrap();
    // Flip one byte in the middle of checkpoint 4.
    let path = store(dir.path()).path(VersionId::online(4));
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();

    // The agent continues from 3 and replays the 100 logged samples 3 had
    // not learned before it reports ready: the result is served as 5 (the
    // number 4 is never given again) and learned what 4 had learned.
    let agent = start(c);
    let p = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(p.version, VersionId::online(5));
    for (a, b) in p.values.iter().zip(&fourth) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
    let stats = agent.stats().unwrap();
    assert_eq!(stats.trainer.samples_seen, 400);
    let skipped = &stats.registry.skipped_at_start;
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].version, VersionId::online(4));
    assert!(
        skipped[0].problem.contains("CRC-32"),
        "{}",
        skipped[0].problem
    );
    updates(&agent, &s, 400, 1);
    assert_eq!(
        agent.predict(&s.x[..8]).unwrap().version,
        VersionId::online(6)
    );
    let m = store(dir.path()).manifest(Mode::Online).unwrap();
    assert_eq!(m.get(5).unwrap().parent, Some(VersionId::online(3)));
    assert_eq!(m.get(6).unwrap().parent, Some(VersionId::online(5)));
    agent.shutdown().unwrap();
}

#[test]
fn rollback_serves_the_old_version_and_records_lineage() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let s = demo::churn(3, 1_000);
    let agent = start(c.clone());
    updates(&agent, &s, 0, 3);
    let at_two = answer_of(dir.path(), VersionId::online(2), &s.x[..80]);
    updates(&agent, &s, 300, 2);
    assert_ne!(agent.predict(&s.x[..80]).unwrap().values, at_two);

    let entry = agent.rollback(VersionId::online(2)).unwrap();
    assert_eq!(entry.number, 2);
    let p = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(p.version, VersionId::online(2));
    assert_eq!(p.values, at_two);
    assert_eq!(
        store(dir.path()).active().unwrap(),
        Some(VersionId::online(2))
    );
    // A restart keeps the rollback: the 300 samples that only the
    // discarded versions 3 to 5 had learned are not replayed into 2.
    agent.shutdown().unwrap();
    let agent = start(c);
    let p = agent.predict(&s.x[..80]).unwrap();
    assert_eq!(p.version, VersionId::online(2));
    assert_eq!(p.values, at_two);
    assert_eq!(agent.stats().unwrap().trainer.samples_seen, 200);
    // Learning continues from version 2: checkpoint 6 has parent 2.
    updates(&agent, &s, 500, 1);
    assert_eq!(
        agent.predict(&s.x[..8]).unwrap().version,
        VersionId::online(6)
    );
    let m = store(dir.path()).manifest(Mode::Online).unwrap();
    assert_eq!(m.get(6).unwrap().parent, Some(VersionId::online(2)));
    assert_eq!(m.get(5).unwrap().parent, Some(VersionId::online(4)));
    // Unknown versions are refused and change nothing.
    assert!(matches!(
        agent.rollback(VersionId::online(99)),
        Err(AgentError::Store(_))
    ));
    assert_eq!(
        agent.predict(&s.x[..8]).unwrap().version,
        VersionId::online(6)
    );
    agent.shutdown().unwrap();
}

#[test]
fn offline_versions_are_all_kept_and_online_learning_continues_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.online.checkpoint_retention = 2;
    let s = demo::churn(4, 6_000);
    let agent = start(c);
    let first = agent
        .train_offline(&s.x[..3_000 * 8], &s.y[..3_000])
        .unwrap();
    assert_eq!(first.version, VersionId::offline(1));
    assert_eq!(
        (first.trained.train_rows, first.trained.holdout_rows),
        (2_400, 600)
    );
    assert!(first.trained.holdout.is_some());
    assert_eq!(agent.predict(&s.x[..8]).unwrap().version, first.version);
    updates(&agent, &s, 3_000, 3);
    let second = agent
        .train_offline(&s.x[3_000 * 8..], &s.y[3_000..])
        .unwrap();
    assert_eq!(second.version, VersionId::offline(2));
    updates(&agent, &s, 0, 1);
    agent.shutdown().unwrap();

    let store = store(dir.path());
    let offline = store.manifest(Mode::Offline).unwrap();
    let numbers: Vec<u64> = offline.versions.iter().map(|v| v.number).collect();
    assert_eq!(numbers, [1, 2]);
    assert!(offline.versions.iter().all(|v| v.reason == "manual"));
    assert!(store.path(VersionId::offline(1)).exists());
    // Each offline version stores its training data as drift reference.
    assert!(offline.versions.iter().all(|v| v.drift_reference.is_some()));
    let online = store.manifest(Mode::Online).unwrap();
    // Online checkpoints 1-3 grew from v1, 4 from v2; retention keeps 3-4.
    let kept: Vec<(u64, Option<VersionId>)> = online
        .versions
        .iter()
        .map(|v| (v.number, v.parent))
        .collect();
    assert_eq!(
        kept,
        [
            (3, Some(VersionId::online(2))),
            (4, Some(VersionId::offline(2)))
        ]
    );
}

#[test]
fn warm_start_from_coefficients_checks_feature_names() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let names: Vec<String> = demo::CHURN_FEATURES.iter().map(|f| f.to_string()).collect();
    let coefficients = refit::plugins::linear::Coefficients::new(
        "logistic",
        names.clone(),
        vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        -0.5,
    );
    let agent = Agent::builder(c.clone())
        .features(demo::CHURN_FEATURES)
        .warm_start(refit::WarmStart::Coefficients(coefficients.clone()))
        .start()
        .unwrap();
    let row = [1.0, 2.0, 1.0, 2.0, 1.0, 0.0, 0.0, 4.0];
    let p = agent.predict(&row).unwrap();
    assert_eq!(p.version, VersionId::offline(1));
    // sigmoid(1.0 * 2.0 - 0.5)
    assert!((p.values[0] - 1.0 / (1.0 + (-1.5f32).exp())).abs() < 1e-6);
    agent.shutdown().unwrap();
    assert_eq!(
        store(dir.path()).manifest(Mode::Offline).unwrap().versions[0].reason,
        "import"
    );

    let mut swapped = names;
    swapped.swap(0, 1);
    let wrong = refit::plugins::linear::Coefficients::new("logistic", swapped, vec![0.0; 8], 0.0);
    let err = Agent::builder(c)
        .features(demo::CHURN_FEATURES)
        .warm_start(refit::WarmStart::Coefficients(wrong))
        .start()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(
            "column 0 is `monthly_charges_100usd` in the file but `tenure_years` in the config"
        ),
        "{err}"
    );
}

#[test]
fn a_restart_monitors_drift_against_the_stored_reference() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.drift.reference_size = 500;
    let s = demo::churn(8, 2_000);
    let agent = start(c.clone());
    updates(&agent, &s, 0, 8);
    agent.shutdown().unwrap();
    let agent = start(c);
    updates(&agent, &s, 800, 1);
    let drift = agent.stats().unwrap().drift.unwrap();
    // No new collection phase: PSI against the 500 stored samples at once.
    assert_eq!(drift.reference_samples, 500);
    assert_eq!(drift.psi.len(), 8);
    assert_eq!(drift.window_samples, 100);
    agent.shutdown().unwrap();
}

/// A tampered manifest cannot make the store read or delete files outside
/// it: paths come from version ids, and an entry naming another file is
/// refused as damaged.
#[test]
fn manifest_entries_cannot_name_files_outside_the_store() {
    use refit::store::{Store, VersionMeta};
    let root = tempfile::tempdir().unwrap();
    let data = root.path().join("data");
    let store = Store::new(&data, "churn", refit::clock::system());
    for _ in 0..2 {
        store
            .write_version(Mode::Online, b"model", VersionMeta::default(), None, None)
            .unwrap();
    }
    // Files outside the store, and an entry pointing at them with their
    // exact size and checksum.
    let victim = root.path().join("victim.txt");
    std::fs::write(&victim, b"not a model").unwrap();
    let sidecar = root.path().join("victim.drift.json");
    std::fs::write(&sidecar, b"{}").unwrap();
    let path = store.dir(Mode::Online).join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let first = &mut manifest["versions"][0];
    first["file"] = "../../victim.txt".into();
    first["drift_reference"] = "../../victim.drift.json".into();
    first["file_size"] = 11.into();
    first["crc32"] = crc32fast::hash(b"not a model").into();
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();

    let err = store.read_version(VersionId::online(1)).unwrap_err();
    assert!(err.to_string().contains("../../victim.txt"), "{err}");
    assert!(store.read_version(VersionId::online(2)).is_ok());
    // Retention drops version 1: only the store's own file goes.
    store
        .write_version(
            Mode::Online,
            b"model",
            VersionMeta::default(),
            None,
            Some(2),
        )
        .unwrap();
    assert!(victim.exists() && sidecar.exists());
    assert!(!store.path(VersionId::online(1)).exists());
}

/// One writer per store: a second agent, or `refit rollback`, beside a
/// running agent gets an error naming the process that holds the store;
/// once the first agent is shut down (its handle still alive), both work.
#[test]
fn a_second_writer_is_refused_while_an_agent_runs() {
    let dir = tempfile::tempdir().unwrap();
    let c = config(dir.path());
    let agent = start(c.clone());
    let s = demo::churn(2, 100);
    agent.ingest(&s.x, &s.y).unwrap();
    agent.flush().unwrap();
    let second = Agent::builder(c.clone())
        .features(demo::CHURN_FEATURES)
        .start();
    match second {
        Err(AgentError::Store(e @ refit::store::StoreError::Locked { .. })) => {
            let text = e.to_string();
            assert!(
                text.contains(&format!("in use by process {}", std::process::id())),
                "{text}"
            );
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("a second agent started on the same store"),
    }
    std::fs::write(
        dir.path().join("config.toml"),
        format!(
            "[agent]\ndata_dir = {:?}\n",
            dir.path().display().to_string()
        ),
    )
    .unwrap();
    let rollback = |to: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_refit"))
            .args(["rollback", to, "--config"])
            .arg(dir.path().join("config.toml"))
            .output()
            .unwrap()
    };
    let refused = rollback("1");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("in use by process"), "{err}");
    agent.shutdown().unwrap();
    assert!(rollback("1").status.success());
    let again = start(c);
    again.shutdown().unwrap();
    drop(agent);
}
