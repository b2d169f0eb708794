//! Crash safety of the model store: the `refit` binary writes checkpoints in
//! a loop and is killed (SIGKILL) at random moments, many times; after each
//! kill the manifests parse, every listed version's file is intact, the
//! active version loads and predicts, and numbers are never reused.

use std::collections::{HashMap, HashSet};
use std::process::{Command, Stdio};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refit::store::{Mode, Store};

const KILLS: usize = 25;

#[test]
fn killed_while_checkpointing_the_store_stays_consistent() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[online]\nmin_samples_per_update = 100\ncheckpoint_retention = 3\n",
    )
    .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let store = Store::new(dir.path(), "churn", refit::clock::system());
    let plugins = refit::plugins::builtin();
    let row = refit::demo::churn(1, 1).x;
    let mut seen_numbers: HashSet<u64> = HashSet::new();
    let mut crc_of: HashMap<u64, u32> = HashMap::new();
    let mut killed_with_versions = 0;
    for kill in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_refit"))
            .args(["run", "--rows", "400000", "--seed"])
            .arg(kill.to_string())
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
        child.kill().unwrap();
        child.wait().unwrap();

        let online = store
            .manifest(Mode::Online)
            .unwrap_or_else(|e| panic!("kill {kill}: {e}"));
        store.manifest(Mode::Offline).unwrap();
        for v in &online.versions {
            assert_eq!(
                *crc_of.entry(v.number).or_insert(v.crc32),
                v.crc32,
                "kill {kill}: number {} reused",
                v.number
            );
            store
                .read_version(v.id())
                .unwrap_or_else(|e| panic!("kill {kill}: listed {} is bad: {e}", v.id()));
        }
        // Listed numbers are new each run: a number once listed and then
        // dropped by retention never comes back with other bytes.
        let listed: HashSet<u64> = online.versions.iter().map(|v| v.number).collect();
        seen_numbers.extend(&listed);
        assert!(online.next > listed.iter().copied().max().unwrap_or(0));
        let recovery = store.recover().unwrap();
        assert!(
            recovery.skipped.is_empty(),
            "kill {kill}: {:?}",
            recovery.skipped
        );
        if let Some((entry, bytes)) = recovery.active {
            killed_with_versions += 1;
            let model = plugins.load(&bytes).unwrap_or_else(|e| {
                panic!("kill {kill}: active {} does not load: {e}", entry.id())
            });
            let p = model
                .snapshot()
                .predict(refit::plugins::Batch::new(&row, 8).unwrap().into())
                .unwrap();
            assert!(p[0].is_finite());
        }
    }
    // Stray temp files never pass for versions.
    let online = store.manifest(Mode::Online).unwrap();
    eprintln!(
        "{KILLS} kills, {killed_with_versions} with a stored version; numbers listed over the run: {}; next number {}",
        seen_numbers.len(),
        online.next
    );
    // Checkpoints were being written while the kills landed.
    assert!(killed_with_versions >= KILLS / 2);
    assert!(online.next > KILLS as u64, "next number {}", online.next);
    assert!(seen_numbers.len() >= 3);
}
