//! Drift measurement cost.
//!
//! - `drift/update`: pushing samples of 20 features into the per-feature PSI
//!   windows (10 quantile bins, sliding window of 5 000), reported as
//!   feature values per second;
//! - `drift/report_psi`: one PSI report over the 20 features;
//! - `drift/report_ks`: the optional KS test over the 20 windows;
//! - `drift/concept`: the loss-stream detectors (ADWIN with its warning
//!   instance, the default), per loss value.
//!
//! Run: `cargo bench --bench drift`.

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::data;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use refit::drift::{BinEdges, ConceptConfig, ConceptMonitor, FeaturePsi};

const WIDTH: usize = 20;
const WINDOW: usize = 5_000;
const ROWS: usize = 10_000;

fn monitors(reference: &[f32], ks: bool) -> Vec<FeaturePsi> {
    (0..WIDTH)
        .map(|j| {
            let col: Vec<f32> = reference.iter().skip(j).step_by(WIDTH).copied().collect();
            let m = FeaturePsi::new(BinEdges::from_reference(&col, 10), &col, WINDOW);
            if ks { m.with_ks(&col) } else { m }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let (reference, _) = data(WINDOW, WIDTH);
    let (x, y) = data(ROWS, WIDTH);
    let mut group = c.benchmark_group("drift");
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(3));

    let mut m = monitors(&reference, false);
    group.throughput(Throughput::Elements((ROWS * WIDTH) as u64));
    group.bench_function("update", |b| {
        b.iter(|| {
            for row in black_box(&x).chunks_exact(WIDTH) {
                for (monitor, &v) in m.iter_mut().zip(row) {
                    monitor.push(v);
                }
            }
        })
    });

    group.throughput(Throughput::Elements(1));
    group.bench_function("report_psi", |b| {
        b.iter(|| m.iter().map(|f| f.psi()).fold(0.0, f64::max))
    });

    let mut with_ks = monitors(&reference, true);
    for row in x.chunks_exact(WIDTH) {
        for (monitor, &v) in with_ks.iter_mut().zip(row) {
            monitor.push(v);
        }
    }
    group.bench_function("report_ks", |b| {
        b.iter(|| {
            with_ks
                .iter()
                .map(|f| f.ks().map_or(0.0, |k| k.statistic))
                .sum::<f64>()
        })
    });

    let losses: Vec<f32> = y.iter().map(|v| 0.3 + 0.2 * v).collect();
    let mut concept = ConceptMonitor::new(ConceptConfig::default());
    group.throughput(Throughput::Elements(ROWS as u64));
    group.bench_function("concept", |b| {
        b.iter(|| concept.observe(0, black_box(&losses)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
