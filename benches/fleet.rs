//! Fleet mode on one `nats-server -js` (loopback, temporary directory):
//! three agents in this process, each a replica (`[fleet]`), logistic
//! regression over 20 features.
//!
//! - **ingest**: three threads, one per replica, each ingests calls of
//!   4 096 rows back to back; rows/s acknowledged (stored in the stream),
//!   and rows/s until the trainer has learned them all;
//! - **checkpoint to all replicas**: for every checkpoint the trainer
//!   writes (its `Checkpointed` event), the time until each of the other
//!   two replicas serves it (a thread per replica polls its serving
//!   version); p50, p99 and max;
//! - **predict**: `Agent::predict` of one row on a follower and on an
//!   agent without a fleet, 200 000 timed calls each; p50, p99.
//!
//! Run: `cargo bench --bench fleet` (needs `nats-server` on the PATH).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod common;
// The fleet tests' nats-server (stop and restart are for those tests).
#[allow(dead_code)]
#[path = "../tests/it/nats.rs"]
mod nats;

use refit::Agent;
use refit::config::{Config, FleetConfig, HumanDuration};
use refit::events::Event;
use refit::store::VersionId;

const WIDTH: usize = 20;
const CALL: usize = 4_096;

fn features() -> Vec<String> {
    (0..WIDTH).map(|i| format!("f{i}")).collect()
}

fn config(dir: &std::path::Path, fleet: Option<(&str, &str)>) -> Config {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = CALL;
    c.online.max_pending_samples = 1_000_000;
    c.fleet = fleet.map(|(url, replica)| FleetConfig {
        url: url.to_owned(),
        replica: Some(replica.to_owned()),
        lease_ttl: HumanDuration(Duration::from_secs(3)),
        timeout: HumanDuration(Duration::from_secs(2)),
        ..FleetConfig::default()
    });
    c
}

fn percentiles(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), v[v.len() - 1])
}

fn predict_latency(agent: &Agent, row: &[f32]) -> (f64, f64, f64) {
    for _ in 0..10_000 {
        std::hint::black_box(agent.predict(row).expect("predicts"));
    }
    let times = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(agent.predict(row).expect("predicts"));
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    percentiles(times)
}

fn main() {
    let Some(server) = nats::NatsServer::start() else {
        return;
    };
    let url = server.url.clone();

    let dirs: Vec<_> = (0..3)
        .map(|_| tempfile::tempdir().expect("temp dir"))
        .collect();
    let agents: Vec<Agent> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            Agent::builder(config(d.path(), Some((&url, &format!("r{}", i + 1)))))
                .features(features())
                .start()
                .expect("replica starts")
        })
        .collect();
    let trainer = loop {
        if let Some(t) = agents
            .iter()
            .position(|a| a.stats().is_ok_and(|s| s.fleet.is_some_and(|f| f.training)))
        {
            break t;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let followers: Vec<usize> = (0..3).filter(|&i| i != trainer).collect();

    // Checkpoint → serving on each follower.
    let events = agents[trainer].subscribe().expect("subscribes");
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Vec<_> = followers
        .iter()
        .map(|&i| {
            let (agent, stop) = (agents[i].clone(), stop.clone());
            std::thread::spawn(move || {
                let mut seen: Vec<(VersionId, Instant)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(v) = agent.serving_version()
                        && seen.last().is_none_or(|(last, _)| *last != v)
                    {
                        seen.push((v, Instant::now()));
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                seen
            })
        })
        .collect();
    let checkpoints = std::thread::spawn(move || {
        let mut written = Vec::new();
        while let Ok(e) = events.recv_timeout(Duration::from_secs(5)) {
            if let Event::Checkpointed { version, .. } = e {
                written.push((version, Instant::now()));
            }
        }
        written
    });

    // Ingest from three threads, one per replica.
    let per_thread = 1_000_000usize.div_ceil(CALL) * CALL;
    let (x, y) = common::data(CALL, WIDTH);
    let start = Instant::now();
    let senders: Vec<_> = agents
        .iter()
        .map(|a| {
            let (a, x, y) = (a.clone(), x.clone(), y.clone());
            std::thread::spawn(move || {
                for _ in 0..per_thread / CALL {
                    a.ingest(&x, &y).expect("acknowledged");
                }
            })
        })
        .collect();
    for s in senders {
        s.join().expect("sender");
    }
    let acked = start.elapsed();
    let total = (per_thread * 3) as u64;
    loop {
        let s = agents[trainer].stats().expect("stats");
        if s.trainer.samples_seen >= total {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let learned = start.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    stop.store(true, Ordering::Relaxed);
    let seen: Vec<Vec<(VersionId, Instant)>> = seen
        .into_iter()
        .map(|h| h.join().expect("watcher"))
        .collect();
    let written = checkpoints.join().expect("events");

    println!("fleet: 3 replicas, 1 trainer, logistic, {WIDTH} features, calls of {CALL} rows");
    println!(
        "ingest: {total} rows acknowledged in {:.2} s = {:.0} rows/s; learned by the trainer after {:.2} s = {:.0} rows/s",
        acked.as_secs_f64(),
        total as f64 / acked.as_secs_f64(),
        learned.as_secs_f64(),
        total as f64 / learned.as_secs_f64()
    );
    let mut lags = Vec::new();
    let mut missed = 0;
    for (version, at) in &written {
        for follower in &seen {
            match follower.iter().find(|(v, _)| v == version) {
                Some((_, t)) => lags.push(t.saturating_duration_since(*at).as_secs_f64() * 1e3),
                // Coalesced: a newer version was published first.
                None => missed += 1,
            }
        }
    }
    if lags.is_empty() {
        println!("checkpoint to all replicas: no checkpoint was served by a follower");
    } else {
        let (p50, p99, max) = percentiles(lags.clone());
        println!(
            "checkpoint to each follower serving it: {} (checkpoint, follower) pairs, p50 {p50:.1} ms, p99 {p99:.1} ms, max {max:.1} ms ({missed} pairs skipped: a newer version came first)",
            lags.len()
        );
    }
    let row = &x[..WIDTH];
    let (p50, p99, max) = predict_latency(&agents[followers[0]], row);
    println!("predict on a follower: p50 {p50:.2} µs, p99 {p99:.2} µs, max {max:.1} µs");
    for a in &agents {
        a.shutdown().expect("shuts down");
    }
    let local_dir = tempfile::tempdir().expect("temp dir");
    let local = Agent::builder(config(local_dir.path(), None))
        .features(features())
        .start()
        .expect("starts");
    local.ingest(&x, &y).expect("accepted");
    local.flush().expect("flushed");
    let (p50, p99, max) = predict_latency(&local, row);
    println!("predict without a fleet: p50 {p50:.2} µs, p99 {p99:.2} µs, max {max:.1} µs");
    local.shutdown().expect("shuts down");
    drop(server);
}
