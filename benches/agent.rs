//! The agent end to end.
//!
//! - `agent/ingest_to_trained`: rows/s from `ingest` (chunks of 1 000 rows)
//!   to trained, checkpointed and served (`flush`), logistic regression with
//!   20 features, updates of 10 000 rows in steps of 256;
//! - `agent/predict_row`: `Agent::predict` of one row (atomic load of the
//!   serving snapshot, no actor round trip). After criterion, the p50 and
//!   p99 of 200 000 timed calls are printed.
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

fn agent(dir: &std::path::Path) -> Agent {
    let mut c = Config::default();
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = 10_000;
    c.online.max_pending_samples = 1_000_000;
    let features: Vec<String> = (0..WIDTH).map(|i| format!("f{i}")).collect();
    Agent::builder(c)
        .features(features)
        .start()
        .expect("agent starts")
}

fn ingest_to_trained(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = agent(dir.path());
    let rows = 200_000;
    let (x, y) = data(rows, WIDTH);
    let mut group = c.benchmark_group("agent");
    group.throughput(Throughput::Elements(rows as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("ingest_to_trained", |b| {
        b.iter(|| {
            for (xc, yc) in x.chunks(1_000 * WIDTH).zip(y.chunks(1_000)) {
                agent.ingest(xc, yc).expect("accepted");
            }
            agent.flush().expect("flushed");
        })
    });
    group.finish();
    agent.shutdown().expect("shutdown");
}

fn predict_row(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = agent(dir.path());
    let (x, y) = data(10_000, WIDTH);
    agent.ingest(&x, &y).expect("accepted");
    agent.flush().expect("flushed");
    let row = &x[..WIDTH];
    c.bench_function("agent/predict_row", |b| {
        b.iter(|| agent.predict(black_box(row)).expect("valid"))
    });
    let mut times: Vec<u128> = (0..200_000)
        .map(|_| {
            let t = Instant::now();
            black_box(agent.predict(black_box(row)).expect("valid"));
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    println!(
        "agent/predict_row over 200000 timed calls: p50 {} ns, p99 {} ns, p99.9 {} ns",
        times[times.len() / 2],
        times[times.len() * 99 / 100],
        times[times.len() * 999 / 1000]
    );
    agent.shutdown().expect("shutdown");
}

criterion_group!(benches, ingest_to_trained, predict_row);
criterion_main!(benches);
