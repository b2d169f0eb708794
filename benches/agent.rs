//! The agent end to end.
//!
//! - `agent/ingest_to_served/{32,256,4096}`: rows/s from `ingest` to
//!   trained and served, logistic regression with 20 features and updates
//!   of 32, 256 or 4 096 rows (`min_samples_per_update`), the shipped
//!   defaults otherwise (sample log on, a checkpoint per update, coalesced
//!   while one is written). Each iteration ingests 65 536 rows in calls of
//!   one update each, back to back, then waits until they are served
//!   (`wait_served`); `agent/ingest_to_persisted/256` waits for the last
//!   checkpoint too (`flush`);
//! - `agent/predict_row`: `Agent::predict` of one row (atomic load of the
//!   serving snapshot, no actor round trip), and `agent/predict_into_row`,
//!   the same into a caller's buffer (no allocation), and
//!   `agent/cached_predict_into_row` and `agent/cached_predict_row` through
//!   a `CachedPredictor` (no allocation, the snapshot kept between calls).
//!   After criterion, the
//!   p50, p99 and max of 200 000 timed calls of each are printed;
//! - `predict_during_swaps` (printed): `Agent::predict` p50/p99/max while
//!   1 000 updates swap the served model, and in steady state after.
//!
//! Run: `cargo bench --bench agent`.

use std::hint::black_box;
use std::time::{Duration, Instant};

mod common;

use common::data;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use refit::Agent;
use refit::config::Config;

const WIDTH: usize = 20;

fn agent(dir: &std::path::Path, update: usize) -> Agent {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = update;
    c.online.max_pending_samples = 1_000_000;
    let features: Vec<String> = (0..WIDTH).map(|i| format!("f{i}")).collect();
    Agent::builder(c)
        .features(features)
        .start()
        .expect("agent starts")
}

fn ingest_to_served(c: &mut Criterion) {
    let rows = 65_536;
    let (x, y) = data(rows, WIDTH);
    let mut group = c.benchmark_group("agent");
    group.throughput(Throughput::Elements(rows as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    for update in [32, 256, 4_096] {
        let dir = tempfile::tempdir().expect("temp dir");
        let agent = agent(dir.path(), update);
        group.bench_function(format!("ingest_to_served/{update}"), |b| {
            b.iter(|| {
                for (xc, yc) in x.chunks(update * WIDTH).zip(y.chunks(update)) {
                    agent.ingest(xc, yc).expect("accepted");
                }
                agent.wait_served().expect("served");
            })
        });
        if update == 256 {
            group.bench_function("ingest_to_persisted/256", |b| {
                b.iter(|| {
                    for (xc, yc) in x.chunks(update * WIDTH).zip(y.chunks(update)) {
                        agent.ingest(xc, yc).expect("accepted");
                    }
                    agent.flush().expect("flushed");
                })
            });
        }
        agent.shutdown().expect("shutdown");
    }
    group.finish();
}

fn predict_row(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = agent(dir.path(), 10_000);
    let (x, y) = data(10_000, WIDTH);
    agent.ingest(&x, &y).expect("accepted");
    agent.flush().expect("flushed");
    let row = &x[..WIDTH];
    c.bench_function("agent/predict_row", |b| {
        b.iter(|| agent.predict(black_box(row)).expect("valid"))
    });
    let mut out = [0.0f32; 1];
    c.bench_function("agent/predict_into_row", |b| {
        b.iter(|| {
            agent
                .predict_into(black_box(row), black_box(&mut out))
                .expect("valid")
        })
    });
    let mut cached = agent.cached_predictor();
    c.bench_function("agent/cached_predict_into_row", |b| {
        b.iter(|| {
            cached
                .predict_into(black_box(row), black_box(&mut out))
                .expect("valid")
        })
    });
    c.bench_function("agent/cached_predict_row", |b| {
        b.iter(|| cached.predict_row(black_box(row)).expect("valid"))
    });
    let mut predict: Vec<u128> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            black_box(agent.predict(black_box(row)).expect("valid"));
            t.elapsed().as_nanos()
        })
        .collect();
    let mut into: Vec<u128> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            black_box(agent.predict_into(black_box(row), &mut out).expect("valid"));
            t.elapsed().as_nanos()
        })
        .collect();
    let mut hot: Vec<u128> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            black_box(
                cached
                    .predict_into(black_box(row), &mut out)
                    .expect("valid"),
            );
            t.elapsed().as_nanos()
        })
        .collect();
    // What the timing itself costs (two clock reads), to read the p50s by.
    let mut timer: Vec<u128> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            black_box(&out);
            t.elapsed().as_nanos()
        })
        .collect();
    println!(
        "timing overhead over 200000 empty timed calls: {}",
        summary(&mut timer)
    );
    println!(
        "agent/predict_row over 200000 timed calls: {}",
        summary(&mut predict)
    );
    println!(
        "agent/cached_predict_into_row over 200000 timed calls: {}",
        summary(&mut hot)
    );
    println!(
        "agent/predict_into_row over 200000 timed calls: {}",
        summary(&mut into)
    );
    agent.shutdown().expect("shutdown");
}

/// p50, p99 and max of nanosecond timings (sorted here).
fn summary(times: &mut [u128]) -> String {
    times.sort_unstable();
    format!(
        "p50 {} ns, p99 {} ns, max {} ns ({} calls)",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() - 1],
        times.len()
    )
}

/// `Agent::predict` latency while 1 000 updates swap the served model,
/// against the same loop once the swaps are over (printed, not a criterion
/// measurement: the swaps are what is being timed around).
fn predict_during_swaps(_: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut c = Config::default();
    c.agent.data_dir = dir.path().to_owned();
    c.online.min_samples_per_update = 50;
    c.samples.enabled = false;
    let features: Vec<String> = (0..WIDTH).map(|i| format!("f{i}")).collect();
    let agent = Agent::builder(c)
        .features(features)
        .start()
        .expect("agent starts");
    let (x, y) = data(50_000, WIDTH);
    let row = x[..WIDTH].to_vec();
    let done = std::sync::atomic::AtomicBool::new(false);
    let timed = |stop: &std::sync::atomic::AtomicBool, limit: usize| {
        let mut times = Vec::with_capacity(limit.min(1 << 22));
        while times.len() < limit && !stop.load(std::sync::atomic::Ordering::Acquire) {
            let t = Instant::now();
            black_box(agent.predict(black_box(&row)).expect("valid"));
            times.push(t.elapsed().as_nanos());
        }
        times
    };
    let mut during = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            for (xc, yc) in x.chunks(50 * WIDTH).zip(y.chunks(50)) {
                agent.ingest(xc, yc).expect("accepted");
                agent.sync().expect("synced");
            }
            done.store(true, std::sync::atomic::Ordering::Release);
        });
        let times = timed(&done, usize::MAX);
        writer.join().expect("writer");
        times
    });
    let mut steady = timed(&std::sync::atomic::AtomicBool::new(false), during.len());
    println!(
        "agent/predict_row during 1000 swaps: {}; steady state: {}",
        summary(&mut during),
        summary(&mut steady)
    );
    agent.shutdown().expect("shutdown");
}

criterion_group!(benches, ingest_to_served, predict_row, predict_during_swaps);
criterion_main!(benches);
