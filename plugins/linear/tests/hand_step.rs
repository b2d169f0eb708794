//! One SGD step on a batch of three rows, computed by hand (in f64, from the
//! formulas, independent of the plugin) and compared with the plugin.

use refit_linear::{Coefficients, LinearModel, LinearParams, Loss};
use refit_plugin::{Batch, Model};

const X: [f32; 6] = [1.0, 2.0, -0.5, 0.0, 3.0, -1.0];
const W0: [f32; 2] = [0.2, -0.1];
const B0: f32 = 0.05;
const LR: f32 = 0.1;

fn start(kind: &str, l2: f32) -> LinearModel {
    let c = Coefficients::new(kind, vec!["a".into(), "b".into()], W0.to_vec(), B0);
    LinearModel::from_coefficients(
        &c,
        LinearParams {
            l2,
            ..Default::default()
        },
    )
    .unwrap()
}

/// w' = w - lr (X^T e / n + l2 w), b' = b - lr mean(e), e = f(Xw + b) - y.
fn by_hand(link: fn(f64) -> f64, y: [f64; 3], l2: f64) -> ([f64; 2], f64) {
    let (mut gw, mut gb) = ([0.0f64; 2], 0.0f64);
    for i in 0..3 {
        let (x0, x1) = (f64::from(X[2 * i]), f64::from(X[2 * i + 1]));
        let z = x0 * f64::from(W0[0]) + x1 * f64::from(W0[1]) + f64::from(B0);
        let e = link(z) - y[i];
        gw[0] += e * x0 / 3.0;
        gw[1] += e * x1 / 3.0;
        gb += e / 3.0;
    }
    let lr = f64::from(LR);
    (
        [
            f64::from(W0[0]) - lr * (gw[0] + l2 * f64::from(W0[0])),
            f64::from(W0[1]) - lr * (gw[1] + l2 * f64::from(W0[1])),
        ],
        f64::from(B0) - lr * gb,
    )
}

fn check(model: &LinearModel, want: ([f64; 2], f64)) {
    for (got, want) in model.coefficients().iter().zip(want.0) {
        assert!(
            (f64::from(*got) - want).abs() < 1e-6,
            "coefficient {got} vs {want}"
        );
    }
    assert!(
        (f64::from(model.intercept()) - want.1).abs() < 1e-6,
        "intercept {} vs {}",
        model.intercept(),
        want.1
    );
}

fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

#[test]
fn logistic_step_matches_hand_computation() {
    let mut m = start("logistic", 0.0);
    let y = [1.0, 0.0, 1.0];
    let report = m
        .partial_fit(&Batch::new(&X, 2).unwrap(), &y.map(|v| v as f32), LR)
        .unwrap();
    check(&m, by_hand(sigmoid, y, 0.0));
    // Mean log loss before the step.
    let loss: f64 = (0..3)
        .map(|i| {
            let z = f64::from(X[2 * i]) * 0.2 - f64::from(X[2 * i + 1]) * 0.1 + 0.05;
            let p = sigmoid(z);
            -(y[i] * p.ln() + (1.0 - y[i]) * (1.0 - p).ln())
        })
        .sum::<f64>()
        / 3.0;
    assert!((report.mean_loss_before - loss).abs() < 1e-6);
    assert_eq!(report.rows, 3);
}

#[test]
fn linear_step_matches_hand_computation() {
    let mut m = start("linear", 0.0);
    let y = [0.7, -1.2, 2.5];
    let report = m
        .partial_fit(&Batch::new(&X, 2).unwrap(), &y.map(|v| v as f32), LR)
        .unwrap();
    check(&m, by_hand(|z| z, y, 0.0));
    let mse: f64 = (0..3)
        .map(|i| {
            let z = f64::from(X[2 * i]) * 0.2 - f64::from(X[2 * i + 1]) * 0.1 + 0.05;
            (z - y[i]).powi(2)
        })
        .sum::<f64>()
        / 3.0;
    assert!((report.mean_loss_before - mse).abs() < 1e-6);
}

#[test]
fn l2_step_matches_hand_computation() {
    for (kind, link) in [("logistic", sigmoid as fn(f64) -> f64), ("linear", |z| z)] {
        let mut m = start(kind, 0.5);
        let y = [1.0, 0.0, 0.0];
        m.partial_fit(&Batch::new(&X, 2).unwrap(), &y.map(|v| v as f32), LR)
            .unwrap();
        check(&m, by_hand(link, y, 0.5));
    }
}

#[test]
fn learning_rate_can_change_between_calls() {
    let mut a = start("linear", 0.0);
    let x = Batch::new(&X, 2).unwrap();
    let y = [0.7, -1.2, 2.5];
    a.partial_fit(&x, &y, 0.001).unwrap();
    let small = a.coefficients()[0] - W0[0];
    let mut b = start("linear", 0.0);
    b.partial_fit(&x, &y, 0.05).unwrap();
    let large = b.coefficients()[0] - W0[0];
    assert!((large / small - 50.0).abs() < 1e-2, "{small} {large}");
    assert_eq!(Loss::Squared.kind(), "linear");
}
