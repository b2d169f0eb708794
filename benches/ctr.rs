//! CTR learning from clicks.
//!
//! - `ctr/hash_click`: one click event hashed into a sparse row;
//! - `ctr/ftrl_fit_1000`: `partial_fit` of 1 000 sparse hashed clicks
//!   (FTRL-Proximal, 2^18 coordinates), the plugin alone;
//! - `ctr/record_clicks_to_trained/T`: clicks/s from `Agent::record_clicks`
//!   (pages of 1 000 events) to trained, checkpointed and served (`flush`),
//!   training every `T` new clicks (100, the default click threshold, and
//!   10 000); `.../T/served`: to trained and served (`wait_served`), the
//!   checkpoints following on the default cadence;
//! - `ctr/rank_100`: `Agent::rank` of 100 documents for a query (hashing,
//!   scoring with the serving snapshot, sorting). After criterion, the p50
//!   and p99 of 20 000 timed calls are printed.
//!
//! Each run also writes the hashed clicks it learns from to
//! `target/ctr_clicks.vw` (Vowpal Wabbit's text format, feature names =
//! coordinates), so `benches/peers/vw_ctr.py` learns the same events:
//! `bash benches/ctr_vs_vw.sh` runs both.

use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refit::Agent;
use refit::config::Config;
use refit::ctr::{Click, ClickHasher};
use refit::plugins::{ModelSpec, Params, Task};
use refit::rows::SparseRows;

const WORDS: [&str; 12] = [
    "red", "blue", "running", "leather", "shoes", "boots", "jacket", "winter", "kids", "wool",
    "rain", "sale",
];

/// `n` click events over 500 documents, CTR by document and position.
fn clicks(n: usize) -> Vec<Click> {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    (0..n)
        .map(|_| {
            let a = WORDS[rng.random_range(0..WORDS.len())];
            let b = WORDS[rng.random_range(0..WORDS.len())];
            let doc = rng.random_range(0..500u32);
            let position = rng.random_range(1..=10u32);
            let p = (f64::from(doc % 10) / 20.0) / f64::from(position).powf(0.7);
            Click {
                query: format!("{a} {b}"),
                doc_id: format!("doc-{doc}"),
                position,
                clicked: rng.random::<f64>() < p,
                request_id: None,
            }
        })
        .collect()
}

fn hashed(h: &mut ClickHasher, events: &[Click]) -> (SparseRows, Vec<f32>) {
    let mut rows = SparseRows::new(h.dim());
    let mut y = Vec::with_capacity(events.len());
    for c in events {
        h.push_click(&mut rows, &c.query, &c.doc_id, Some(c.position), &[]);
        y.push(f32::from(u8::from(c.clicked)));
    }
    (rows, y)
}

/// The events in Vowpal Wabbit's text format, for the peer script.
fn export_vw(rows: &SparseRows, y: &[f32]) -> std::io::Result<()> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ctr_clicks.vw");
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    let b = rows.batch().map_err(std::io::Error::other)?;
    for (r, label) in y.iter().enumerate() {
        let (idx, val) = b.row(r);
        write!(out, "{} |h", if *label == 1.0 { 1 } else { -1 })?;
        for (i, v) in idx.iter().zip(val) {
            write!(out, " {i}:{v}")?;
        }
        writeln!(out)?;
    }
    out.flush()
}

fn agent(dir: &std::path::Path, threshold: usize) -> Agent {
    let mut c = Config::from_toml_str(
        "[agent]\nname = \"ctr\"\nfile_prefix = \"ctr_model\"\n[model]\nkind = \"ftrl\"\n",
    )
    .expect("config");
    c.agent.data_dir = dir.to_owned();
    c.online.min_samples_per_update = threshold;
    c.online.max_pending_samples = 10_000_000;
    Agent::start(c).expect("agent starts")
}

fn plugin_and_hashing(c: &mut Criterion) {
    let mut h = ClickHasher::new(18).expect("bits");
    let events = clicks(100_000);
    let (rows, y) = hashed(&mut h, &events);
    if let Err(e) = export_vw(&rows, &y) {
        eprintln!("target/ctr_clicks.vw not written: {e}");
    }
    let mut group = c.benchmark_group("ctr");
    group.throughput(Throughput::Elements(1));
    group.bench_function("hash_click", |b| {
        let mut out = SparseRows::new(h.dim());
        let mut i = 0;
        b.iter(|| {
            if out.rows() > 10_000 {
                out = SparseRows::new(h.dim());
            }
            let e = &events[i % events.len()];
            h.push_click(&mut out, &e.query, &e.doc_id, Some(e.position), &[]);
            i += 1;
        })
    });
    let spec = ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new());
    let mut model = refit::plugins::builtin()
        .create(spec, &Params::new())
        .expect("ftrl");
    let part = rows.slice(0, 1_000);
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("ftrl_fit_1000", |b| {
        let x = part.batch().expect("valid");
        b.iter(|| model.partial_fit(x.into(), &y[..1_000], 0.01).expect("fit"))
    });
    group.finish();
}

fn record_to_trained(c: &mut Criterion) {
    let events = clicks(100_000);
    let mut group = c.benchmark_group("ctr/record_clicks_to_trained");
    group.throughput(Throughput::Elements(events.len() as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    for threshold in [100, 10_000] {
        let dir = tempfile::tempdir().expect("temp dir");
        let agent = agent(dir.path(), threshold);
        group.bench_function(threshold.to_string(), |b| {
            b.iter(|| {
                for page in events.chunks(1_000) {
                    agent.record_clicks(page).expect("accepted");
                }
                agent.flush().expect("flushed");
            })
        });
        group.bench_function(format!("{threshold}/served"), |b| {
            b.iter(|| {
                for page in events.chunks(1_000) {
                    agent.record_clicks(page).expect("accepted");
                }
                agent.wait_served().expect("served");
            })
        });
        agent.shutdown().expect("shutdown");
    }
    group.finish();
}

fn rank(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let agent = agent(dir.path(), 10_000);
    for page in clicks(50_000).chunks(1_000) {
        agent.record_clicks(page).expect("accepted");
    }
    agent.flush().expect("flushed");
    let docs: Vec<String> = (0..100).map(|d| format!("doc-{d}")).collect();
    c.bench_function("ctr/rank_100", |b| {
        b.iter(|| agent.rank(black_box("red shoes"), &docs).expect("ranked"))
    });
    let mut times: Vec<u128> = (0..20_000)
        .map(|_| {
            let t = Instant::now();
            black_box(agent.rank("red shoes", &docs).expect("ranked"));
            t.elapsed().as_nanos()
        })
        .collect();
    times.sort_unstable();
    println!(
        "ctr/rank_100 over 20000 timed calls: p50 {} ns, p99 {} ns",
        times[times.len() / 2],
        times[times.len() * 99 / 100]
    );
    agent.shutdown().expect("shutdown");
}

criterion_group!(benches, plugin_and_hashing, rank, record_to_trained);
criterion_main!(benches);
