//! Plugin throughput and serving latency.
//!
//! - `partial_fit/<kind>/d<features>/b<batch>`: rows/s of one `partial_fit`
//!   call at batch sizes 1, 32, 256, 4096 and 20 or 100 features
//!   (`logistic` takes an AdaGrad step per row, its default; `logistic_sgd`
//!   a constant-rate SGD step per row; `logistic_mini_batch` one AdaGrad
//!   step per batch on Burn tensors);
//! - `predict_row/<kind>/d<features>`: one row through the serving snapshot.
//!
//! Run: `cargo bench --bench models` (single-threaded: the built-in plugins
//! use Burn's flex backend without rayon).

use std::hint::black_box;
use std::time::Duration;

mod common;

use common::data;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use refit::plugins::{self, Batch, Model, ModelSpec, Params, Task};

const KINDS: [(&str, Task); 3] = [
    ("logistic", Task::Classification),
    ("linear", Task::Regression),
    ("mlp", Task::Classification),
];

fn model(kind: &str, task: Task, width: usize) -> Box<dyn Model> {
    model_with(kind, task, width, Params::new())
}

fn model_with(kind: &str, task: Task, width: usize, params: Params) -> Box<dyn Model> {
    let features: Vec<String> = (0..width).map(|i| format!("f{i}")).collect();
    plugins::builtin()
        .create(ModelSpec::new(kind, task, features), &params)
        .expect("built-in kind")
}

fn partial_fit(c: &mut Criterion) {
    let mut mini_batch = Params::new();
    mini_batch.insert("update".into(), "mini_batch".into());
    let mut sgd = Params::new();
    sgd.insert("optimizer".into(), "sgd".into());
    let variants = KINDS
        .iter()
        .map(|&(kind, task)| (kind.to_owned(), kind, task, Params::new()))
        .chain([
            (
                "logistic_sgd".to_owned(),
                "logistic",
                Task::Classification,
                sgd,
            ),
            (
                "logistic_mini_batch".to_owned(),
                "logistic",
                Task::Classification,
                mini_batch,
            ),
        ]);
    for (label, kind, task, params) in variants {
        let mut group = c.benchmark_group(format!("partial_fit/{label}"));
        group.warm_up_time(Duration::from_millis(500));
        group.measurement_time(Duration::from_secs(2));
        for width in [20, 100] {
            for batch in [1usize, 32, 256, 4096] {
                let (x, y) = data(batch, width);
                let mut m = model_with(kind, task, width, params.clone());
                group.throughput(Throughput::Elements(batch as u64));
                group.bench_function(
                    BenchmarkId::new(format!("d{width}"), format!("b{batch}")),
                    |b| {
                        let xb = Batch::new(&x, width).expect("rectangular");
                        b.iter(|| {
                            m.partial_fit(black_box(xb.into()), black_box(&y), 0.001)
                                .expect("valid")
                        })
                    },
                );
            }
        }
        group.finish();
    }
}

fn predict_row(c: &mut Criterion) {
    let mut group = c.benchmark_group("predict_row");
    for (kind, task) in KINDS {
        for width in [20, 100] {
            let (x, y) = data(256, width);
            let mut m = model(kind, task, width);
            m.partial_fit(Batch::new(&x, width).expect("rectangular").into(), &y, 0.01)
                .expect("valid");
            let serving = m.snapshot();
            let row = &x[..width];
            group.bench_function(BenchmarkId::new(kind, format!("d{width}")), |b| {
                b.iter(|| serving.predict_row(black_box(row.into())).expect("valid"))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, partial_fit, predict_row);
criterion_main!(benches);
