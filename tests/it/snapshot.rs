//! The serving snapshot agrees with the Burn forward pass, is Send + Sync,
//! and keeps serving the weights it was taken from while training goes on.

use crate::common;

use std::sync::Arc;

use common::{KINDS, probe, trained};
use refit::plugins::{Batch, Predictor};

static_assertions::assert_impl_all!(Arc<dyn Predictor>: Send, Sync);
static_assertions::assert_impl_all!(refit::plugins::linear::LinearSnapshot: Send, Sync);
static_assertions::assert_impl_all!(refit::plugins::mlp::MlpSnapshot: Send, Sync);
static_assertions::assert_impl_all!(refit::plugins::linear::LinearModel: Send);
static_assertions::assert_impl_all!(refit::plugins::mlp::MlpModel: Send);

#[test]
fn snapshot_equals_burn_forward_pass() {
    for (kind, task) in KINDS {
        let m = trained(kind, task);
        let x = probe();
        let burn = m.predict(Batch::new(&x, 3).unwrap().into()).unwrap();
        let serving = m.snapshot();
        for (row, want) in x.chunks(3).zip(burn) {
            let got = serving.predict_row(row.into()).unwrap();
            assert!(
                (got - want).abs() <= 1e-6,
                "{kind}/{task}: snapshot {got}, burn {want}"
            );
        }
    }
}

#[test]
fn snapshot_is_frozen_while_the_model_trains() {
    for (kind, task) in KINDS {
        let mut m = trained(kind, task);
        let serving = m.snapshot();
        let x = probe();
        let before = serving.predict(Batch::new(&x, 3).unwrap().into()).unwrap();
        let reader = {
            let serving = serving.clone();
            let x = x.clone();
            std::thread::spawn(move || {
                (0..200)
                    .map(|_| serving.predict(Batch::new(&x, 3).unwrap().into()).unwrap())
                    .collect::<Vec<_>>()
            })
        };
        let y: Vec<f32> = (0..20).map(|i| (i % 2) as f32).collect();
        for _ in 0..20 {
            m.partial_fit(Batch::new(&x, 3).unwrap().into(), &y, 0.1)
                .unwrap();
        }
        for seen in reader.join().unwrap() {
            assert_eq!(seen, before, "{kind}: a snapshot changed under a reader");
        }
        let after = m
            .snapshot()
            .predict(Batch::new(&x, 3).unwrap().into())
            .unwrap();
        assert_ne!(after, before, "{kind}: training changed nothing");
    }
}
