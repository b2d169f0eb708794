//! Soak (not in the default test run: `bash scripts/soak.sh`, or
//! `cargo test --test soak -- --ignored --nocapture`): for
//! `REFIT_SOAK_SECS` seconds (default 180), two producers ingest as fast as
//! they can (faster than training: back-pressure answers with its typed
//! error), two threads predict, one edits config.toml every 2 s (the
//! watcher reloads it) and one rolls back to the offline version every 3 s.
//! The process's RSS is sampled every second. It fails when RSS after the
//! warm-up (the first fifth) grows more than 10% above its level at the end
//! of the warm-up, when any operation fails other than by back-pressure, when a
//! prediction is not finite, or when an accepted sample is neither trained
//! on nor reported skipped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use refit::store::VersionId;
use refit::{Agent, AgentError, demo};

/// The process's resident memory; fails loudly where `/proc` is missing
/// (reading 0 would pass whatever grew).
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status")
        .expect("the soak measures memory in /proc/self/status, which this system lacks");
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .expect("no VmRSS line in /proc/self/status")
}

fn config_text(dir: &std::path::Path, stable: f64) -> String {
    let features: Vec<String> = demo::CHURN_FEATURES
        .iter()
        .map(|f| format!("{f:?}"))
        .collect();
    format!(
        "[agent]\ndata_dir = {:?}\n[model]\nfeatures = [{}]\n[online]\nmin_samples_per_update = 2000\nmax_pending_samples = 20000\ncheckpoint_retention = 5\n[learning_rate]\nstable = {stable}\n",
        dir.display().to_string(),
        features.join(", ")
    )
}

#[test]
#[ignore = "minutes long: run by scripts/soak.sh"]
fn soak_keeps_memory_flat_and_loses_nothing() {
    let secs: u64 = std::env::var("REFIT_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(180);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    std::fs::write(&path, config_text(dir.path(), 0.001)).unwrap();
    let config = refit::config::Config::from_path(&path).unwrap();
    let agent = Agent::builder(config).watch(&path).start().unwrap();
    let stream = Arc::new(demo::churn(3, 40_000));
    agent
        .train_offline(&stream.x[..5_000 * 8], &stream.y[..5_000])
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let unexpected = Arc::new(AtomicU64::new(0));
    let counters: Arc<[AtomicU64; 5]> = Arc::new(Default::default()); // ingested, refused, predicted, edits, rollbacks
    let mut threads = Vec::new();
    for p in 0..2 {
        let (agent, stop, bad, n, s) = (
            agent.clone(),
            stop.clone(),
            unexpected.clone(),
            counters.clone(),
            stream.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut i = p * 250;
            while !stop.load(Ordering::Relaxed) {
                let rows = 500;
                let start = i % (40_000 - rows);
                match agent.ingest(
                    &s.x[start * 8..(start + rows) * 8],
                    &s.y[start..start + rows],
                ) {
                    Ok(_) => {
                        n[0].fetch_add(rows as u64, Ordering::Relaxed);
                    }
                    Err(AgentError::Backpressure { .. }) => {
                        n[1].fetch_add(1, Ordering::Relaxed);
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    Err(e) => {
                        eprintln!("ingest: {e}");
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 977;
            }
        }));
    }
    for _ in 0..2 {
        let (agent, stop, bad, n, s) = (
            agent.clone(),
            stop.clone(),
            unexpected.clone(),
            counters.clone(),
            stream.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) {
                let r = i % 40_000;
                match agent.predict(&s.x[r * 8..(r + 1) * 8]) {
                    Ok(p) if p.values.iter().all(|v| v.is_finite()) => {
                        n[2].fetch_add(1, Ordering::Relaxed);
                    }
                    other => {
                        eprintln!("predict: {other:?}");
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
                i += 1;
            }
        }));
    }
    {
        let (stop, n, path, dir) = (
            stop.clone(),
            counters.clone(),
            path.clone(),
            dir.path().to_owned(),
        );
        threads.push(std::thread::spawn(move || {
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(2));
                k += 1;
                let stable = if k % 2 == 0 { 0.001 } else { 0.002 };
                refit::store::write_atomic(&path, config_text(&dir, stable).as_bytes()).unwrap();
                n[3].fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    {
        let (agent, stop, bad, n) = (
            agent.clone(),
            stop.clone(),
            unexpected.clone(),
            counters.clone(),
        );
        threads.push(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_secs(3));
                // Back to the offline version (online checkpoints come and
                // go by retention within milliseconds under this load).
                match agent.rollback(VersionId::offline(1)) {
                    Ok(_) => {
                        n[4].fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        eprintln!("rollback: {e}");
                        bad.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    let warmup = Duration::from_secs(secs / 5);
    let mut at_warmup = None;
    let mut peak_after = 0;
    let mut samples = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_secs(1));
        let rss = rss_kib();
        samples.push(rss);
        if started.elapsed() >= warmup {
            match at_warmup {
                None => at_warmup = Some(rss),
                Some(_) => peak_after = peak_after.max(rss),
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    agent.flush().unwrap();
    let stats = agent.stats().unwrap();
    agent.shutdown().unwrap();
    let at_warmup = at_warmup.unwrap_or(0);
    let growth = peak_after as f64 / at_warmup.max(1) as f64 - 1.0;
    let c = |i: usize| counters[i].load(Ordering::Relaxed);
    eprintln!(
        "soak {secs} s: ingested {} (refused by back-pressure {} times), predictions {}, config edits {}, rollbacks {}, updates {}, trained {}, skipped {}, full retrains {}, offline versions {}; RSS KiB at warm-up end {at_warmup}, peak after {peak_after} ({:+.1}%), samples {:?}",
        c(0),
        c(1),
        c(2),
        c(3),
        c(4),
        stats.trainer.updates,
        stats.trainer.trained,
        stats.trainer.skipped,
        stats.trainer.retrains,
        stats.registry.offline_versions,
        growth * 100.0,
        samples
    );
    assert_eq!(unexpected.load(Ordering::Relaxed), 0, "unexpected errors");
    assert_eq!(stats.ingest.accepted, c(0));
    assert_eq!(
        stats.trainer.trained + stats.trainer.skipped,
        c(0),
        "an accepted sample was neither trained on nor reported skipped"
    );
    assert!(
        growth <= 0.10,
        "RSS grew {:.1}% after the warm-up",
        growth * 100.0
    );
}
