//! Label scaling: a regressor learns on standardised labels and answers in
//! label units, through the serving snapshot, the Burn forward pass, save
//! and load, and the exported coefficients.

use refit_linear::{LinearModel, LinearParams, Loss};
use refit_plugin::{Batch, Model};

/// y = 40 + 2 x over x in [-1, 1]: a label far from the zero a fresh model
/// predicts.
fn stream(n: usize) -> (Vec<f32>, Vec<f32>) {
    let x: Vec<f32> = (0..n)
        .map(|i| ((i * 37) % 101) as f32 / 50.0 - 1.0)
        .collect();
    let y = x.iter().map(|v| 40.0 + 2.0 * v).collect();
    (x, y)
}

fn trained(scale_label: bool) -> LinearModel {
    let params = LinearParams {
        scale_label,
        ..LinearParams::default()
    };
    let mut m = LinearModel::new(Loss::Squared, ["x"], params).unwrap();
    let (x, y) = stream(2_000);
    for (xs, ys) in x.chunks(32).zip(y.chunks(32)) {
        m.partial_fit(Batch::new(xs, 1).unwrap().into(), ys, 0.1)
            .unwrap();
    }
    m
}

#[test]
fn predictions_come_back_in_label_units() {
    let m = trained(true);
    let (x, y) = stream(2_000);
    let mean = y.iter().map(|&v| f64::from(v)).sum::<f64>() / y.len() as f64;
    assert!((f64::from(m.label_scaler().mean()) - mean).abs() < 1e-3);
    assert_eq!(m.label_scaler().count(), 2_000);
    let snapshot = m.snapshot();
    for v in [-0.9f32, 0.0, 0.7] {
        let p = snapshot.predict_row((&[v]).into()).unwrap();
        assert!((p - (40.0 + 2.0 * v)).abs() < 0.05, "x {v}: {p}");
    }
    // The Burn forward pass agrees with the snapshot.
    let burn = m.predict(Batch::new(&x[..50], 1).unwrap().into()).unwrap();
    for (b, row) in burn.iter().zip(&x[..50]) {
        assert!((b - snapshot.predict_row((&[*row]).into()).unwrap()).abs() < 1e-4);
    }
    // Exported coefficients are over raw features and in label units.
    let (w, b) = m.raw_coefficients().unwrap();
    assert!(
        (w[0] - 2.0).abs() < 0.05 && (b - 40.0).abs() < 0.05,
        "{w:?} {b}"
    );
}

#[test]
fn label_statistics_survive_save_and_load() {
    let m = trained(true);
    let loaded = LinearModel::load(Loss::Squared, &m.save().unwrap()).unwrap();
    assert_eq!(loaded.label_scaler(), m.label_scaler());
    for v in [-1.0f32, 0.25, 1.0] {
        assert_eq!(
            loaded
                .snapshot()
                .predict_row((&[v]).into())
                .unwrap()
                .to_bits(),
            m.snapshot().predict_row((&[v]).into()).unwrap().to_bits()
        );
    }
}

#[test]
fn without_scaling_the_intercept_is_still_walking() {
    // The same stream and rate on raw labels: the intercept has not reached
    // the labels' level, which is what label scaling is for.
    let raw = trained(false);
    assert_eq!(raw.label_scaler().count(), 0);
    let p = raw.snapshot().predict_row((&[0.0]).into()).unwrap();
    let scaled = trained(true)
        .snapshot()
        .predict_row((&[0.0]).into())
        .unwrap();
    assert!(
        (scaled - 40.0).abs() < (p - 40.0).abs(),
        "raw {p}, scaled {scaled}"
    );
}
