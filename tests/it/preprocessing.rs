//! Preprocessing inside the built-in models: raw features in the hundreds of
//! thousands learn out of the box, the statistics travel with the model, and
//! predicting never changes state.

use crate::common;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use refit::metrics::{auc, mae};
use refit::plugins::linear::{LinearModel, LinearParams, Loss};
use refit::plugins::preprocess::{FeatureOverride, FeatureType, Missing, PreprocessConfig};
use refit::plugins::{self, Batch, Model, ModelSpec, Params, Task};

const FEATURES: [&str; 3] = ["date_ordinal", "score", "ratio"];

/// Rows whose first feature is a date ordinal near 7.3e5 (2000-2010 as days),
/// the others near 1. The label rule is linear in the *scaled* date.
struct Stream {
    x: Vec<f32>,
    y_class: Vec<f32>,
    y_reg: Vec<f32>,
    oracle_p: Vec<f32>,
    oracle_v: Vec<f32>,
}

fn stream(rows: usize) -> Stream {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut s = Stream {
        x: vec![],
        y_class: vec![],
        y_reg: vec![],
        oracle_p: vec![],
        oracle_v: vec![],
    };
    for _ in 0..rows {
        let date = 730_120.0 + rng.random_range(0.0..3_650.0f32);
        let (a, b) = (rng.random_range(0.0..2.0f32), rng.random_range(0.5..1.5f32));
        let years = (date - 730_120.0) / 365.0; // 0..10
        let z = 0.4 * (years - 5.0) + 1.5 * (a - 1.0) - 2.0 * (b - 1.0);
        let p = 1.0 / (1.0 + (-z).exp());
        let v = 3.0 + 0.8 * years + 2.0 * a - 1.0 * b;
        s.x.extend_from_slice(&[date, a, b]);
        s.y_class
            .push(if rng.random::<f32>() < p { 1.0 } else { 0.0 });
        s.y_reg.push(v + 0.3 * (rng.random::<f32>() - 0.5));
        s.oracle_p.push(p);
        s.oracle_v.push(v);
    }
    s
}

/// Progressive predictions (predict each batch of 32, then learn).
fn progressive(model: &mut dyn Model, x: &[f32], y: &[f32], lr: f32) -> Vec<f32> {
    let mut out = Vec::with_capacity(y.len());
    for (xs, ys) in x.chunks(32 * 3).zip(y.chunks(32)) {
        let b = Batch::new(xs, 3).unwrap();
        out.extend(model.snapshot().predict(b.into()).unwrap());
        // A refused update is the safeguard at work; keep streaming.
        let _ = model.partial_fit(b.into(), ys, lr);
    }
    out.iter()
        .map(|p| if p.is_finite() { *p } else { f32::MAX })
        .collect()
}

#[test]
fn logistic_converges_on_raw_date_ordinals_and_diverges_without_preprocessing() {
    let s = stream(20_000);
    let half = 10_000;
    let oracle = auc(&s.oracle_p[half..], &s.y_class[half..]).unwrap();
    let run = |params: LinearParams| {
        let mut m = LinearModel::new(Loss::Log, FEATURES, params).unwrap();
        let p = progressive(&mut m, &s.x, &s.y_class, 0.05);
        auc(&p[half..], &s.y_class[half..]).unwrap()
    };
    let with = run(LinearParams::default());
    let without = run(LinearParams::raw());
    eprintln!(
        "logistic AUC second half: oracle {oracle:.4}, standardised {with:.4}, raw {without:.4}"
    );
    assert!(
        with >= oracle - 0.01,
        "standardised AUC {with} vs oracle {oracle}"
    );
    assert!(
        without < oracle - 0.05,
        "raw AUC {without} should fail the same bar"
    );
}

#[test]
fn linear_converges_on_raw_date_ordinals_and_diverges_without_preprocessing() {
    let s = stream(20_000);
    let half = 10_000;
    // The scaled reference: the generator's own noiseless values.
    let reference = mae(&s.oracle_v[half..], &s.y_reg[half..]);
    let run = |params: LinearParams| {
        let mut m = LinearModel::new(Loss::Squared, FEATURES, params).unwrap();
        let p = progressive(&mut m, &s.x, &s.y_reg, 0.02);
        mae(&p[half..], &s.y_reg[half..])
    };
    let with = run(LinearParams::default());
    let without = run(LinearParams::raw());
    eprintln!(
        "linear MAE second half: reference {reference:.4}, standardised {with:.4}, raw {without:.4e}"
    );
    assert!(
        with <= reference + 0.05,
        "standardised MAE {with} vs reference {reference}"
    );
    assert!(
        without > 10.0 * reference,
        "raw MAE {without} should fail the same bar"
    );
}

fn mixed_params() -> Params {
    // A categorical feature and imputed missing values, through the same
    // `[model.params]` table a config file gives.
    let mut pre = PreprocessConfig {
        onehot_max: 2,
        hash_buckets: 2,
        ..Default::default()
    };
    pre.features.insert(
        "c".into(),
        FeatureOverride {
            kind: Some(FeatureType::Categorical),
            missing: Some(Missing::Impute),
            ..Default::default()
        },
    );
    pre.features.insert(
        "b".into(),
        FeatureOverride {
            missing: Some(Missing::Impute),
            ..Default::default()
        },
    );
    let mut params = Params::new();
    params.insert("preprocessing".into(), serde_json::to_value(pre).unwrap());
    params
}

fn mixed_rows() -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    (0..64)
        .flat_map(|i| {
            let b = if i % 7 == 0 {
                f32::NAN
            } else {
                rng.random_range(-1e5..1e5f32)
            };
            let c = if i % 11 == 0 {
                f32::NAN
            } else {
                (i % 5) as f32
            };
            [rng.random_range(0.0..1.0f32), b, c]
        })
        .collect()
}

#[test]
fn save_load_and_snapshot_agree_including_preprocessing() {
    let registry = plugins::builtin();
    let x = mixed_rows();
    for (kind, task) in common::KINDS {
        let mut m = registry
            .create(
                ModelSpec::new(kind, task, common::FEATURES),
                &mixed_params(),
            )
            .unwrap();
        let y: Vec<f32> = (0..64).map(|i| (i % 2) as f32).collect();
        for chunk in 0..4 {
            let rows = &x[chunk * 48..(chunk + 1) * 48];
            m.partial_fit(
                Batch::new(rows, 3).unwrap().into(),
                &y[chunk * 16..(chunk + 1) * 16],
                0.05,
            )
            .unwrap();
        }
        let probe = Batch::new(&x, 3).unwrap();
        let burn = m.predict(probe.into()).unwrap();
        let serving = m.snapshot().predict(probe.into()).unwrap();
        let loaded = registry.load(&m.save().unwrap()).unwrap();
        let after_load = loaded.predict(probe.into()).unwrap();
        let loaded_serving = loaded.snapshot().predict(probe.into()).unwrap();
        for i in 0..burn.len() {
            assert!(
                (burn[i] - serving[i]).abs() <= 1e-6,
                "{kind}/{task} row {i}: {} vs {}",
                burn[i],
                serving[i]
            );
            assert_eq!(
                burn[i].to_bits(),
                after_load[i].to_bits(),
                "{kind}/{task} row {i}"
            );
            assert_eq!(serving[i].to_bits(), loaded_serving[i].to_bits());
        }
        // A categorical level never seen in training predicts without error.
        assert!(
            m.snapshot()
                .predict_row((&[0.5, 1.0, 1234.0]).into())
                .unwrap()
                .is_finite()
        );
        assert!(
            m.predict(Batch::new(&[0.5, f32::NAN, 77.0], 3).unwrap().into())
                .is_ok()
        );
        // Missing values where the config does not allow them stay an error.
        let err = m
            .snapshot()
            .predict_row((&[f32::NAN, 1.0, 1.0]).into())
            .unwrap_err();
        assert!(err.to_string().contains("feature `a`"), "{err}");
    }
}

#[test]
fn predicting_is_pure() {
    for (kind, task) in common::KINDS {
        let mut m = plugins::builtin()
            .create(
                ModelSpec::new(kind, task, common::FEATURES),
                &mixed_params(),
            )
            .unwrap();
        let x = mixed_rows();
        let y: Vec<f32> = (0..64).map(|i| (i % 2) as f32).collect();
        m.partial_fit(Batch::new(&x, 3).unwrap().into(), &y, 0.05)
            .unwrap();
        let probe = Batch::new(&x[..30], 3).unwrap();
        let first = m.predict(probe.into()).unwrap();
        let saved = m.save().unwrap();
        let row = [1e6f32, -3e5, 9.0];
        let serving = m.snapshot();
        for _ in 0..1_000 {
            serving.predict_row((&row).into()).unwrap();
            m.predict(Batch::new(&row, 3).unwrap().into()).unwrap();
        }
        assert_eq!(m.predict(probe.into()).unwrap(), first, "{kind}/{task}");
        assert_eq!(
            m.save().unwrap(),
            saved,
            "{kind}/{task}: predicting changed the model"
        );
    }
}

#[test]
fn categorical_feature_is_learned() {
    // The label depends only on the level of a categorical feature.
    let mut params = Params::new();
    let mut pre = PreprocessConfig::default();
    pre.features.insert(
        "level".into(),
        FeatureOverride {
            kind: Some(FeatureType::Categorical),
            ..Default::default()
        },
    );
    params.insert("preprocessing".into(), serde_json::to_value(pre).unwrap());
    let mut m = plugins::builtin()
        .create(
            ModelSpec::new("logistic", Task::Classification, ["noise", "level"]),
            &params,
        )
        .unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let rate = [0.1f32, 0.9, 0.3, 0.7, 0.5];
    let (mut x, mut y) = (vec![], vec![]);
    for _ in 0..8_000 {
        let level = rng.random_range(0..5usize);
        x.extend_from_slice(&[rng.random::<f32>(), 100.0 + level as f32]);
        y.push(if rng.random::<f32>() < rate[level] {
            1.0
        } else {
            0.0
        });
    }
    let mut p = Vec::new();
    for (xs, ys) in x.chunks(64).zip(y.chunks(32)) {
        let b = Batch::new(xs, 2).unwrap();
        p.extend(m.snapshot().predict(b.into()).unwrap());
        m.partial_fit(b.into(), ys, 0.1).unwrap();
    }
    let got = auc(&p[4_000..], &y[4_000..]).unwrap();
    let oracle: Vec<f32> = x.chunks(2).map(|r| rate[(r[1] - 100.0) as usize]).collect();
    let best = auc(&oracle[4_000..], &y[4_000..]).unwrap();
    assert!(got >= best - 0.01, "categorical AUC {got} vs oracle {best}");
}
