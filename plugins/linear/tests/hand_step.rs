//! One `partial_fit` call on a batch of three rows, computed by hand (in f64,
//! from the formulas, independent of the plugin) and compared with the
//! plugin, for both update modes and both optimizers (constant SGD and
//! AdaGrad).

use refit_linear::{Coefficients, LinearModel, LinearParams, Loss, Optimizer, Update};
use refit_plugin::{Batch, Model};

const X: [f32; 6] = [1.0, 2.0, -0.5, 0.0, 3.0, -1.0];
const W0: [f32; 2] = [0.2, -0.1];
const B0: f32 = 0.05;
const LR: f32 = 0.1;

fn start(kind: &str, l2: f32, update: Update) -> LinearModel {
    start_with(kind, l2, update, Optimizer::Sgd)
}

fn start_with(kind: &str, l2: f32, update: Update, optimizer: Optimizer) -> LinearModel {
    let c = Coefficients::new(kind, vec!["a".into(), "b".into()], W0.to_vec(), B0);
    LinearModel::from_coefficients(
        &c,
        LinearParams {
            l2,
            update,
            optimizer,
            ..Default::default()
        },
    )
    .unwrap()
}

/// AdaGrad by hand. Per sample, for each row in turn: e = f(w.x + b) - y,
/// g = (e x + l2 w, e), G += g^2, then (w, b) -= lr g / (sqrt(G) + 1e-8).
/// Mini-batch: the same step once, on the mean gradient of the rows at the
/// starting weights. G starts at `g0` for every coordinate.
fn adagrad_by_hand(
    update: Update,
    link: fn(f64) -> f64,
    y: [f64; 3],
    l2: f64,
    g0: f64,
) -> ([f64; 2], f64) {
    let lr = f64::from(LR);
    let mut p = [f64::from(W0[0]), f64::from(W0[1]), f64::from(B0)];
    let mut acc = [g0; 3];
    let gradient = |p: &[f64; 3], i: usize| {
        let (x0, x1) = (f64::from(X[2 * i]), f64::from(X[2 * i + 1]));
        let e = link(x0 * p[0] + x1 * p[1] + p[2]) - y[i];
        [e * x0 + l2 * p[0], e * x1 + l2 * p[1], e]
    };
    let mut step = |p: &mut [f64; 3], g: [f64; 3]| {
        for j in 0..3 {
            acc[j] += g[j] * g[j];
            p[j] -= lr * g[j] / (acc[j].sqrt() + 1e-8);
        }
    };
    match update {
        Update::PerSample => {
            for i in 0..3 {
                let g = gradient(&p, i);
                step(&mut p, g);
            }
        }
        Update::MiniBatch => {
            let mut mean = [0.0; 3];
            for i in 0..3 {
                let g = gradient(&p, i);
                for j in 0..3 {
                    mean[j] += g[j] / 3.0;
                }
            }
            step(&mut p, mean);
        }
    }
    ([p[0], p[1]], p[2])
}

/// The expected weights after one call in `update` mode.
fn by_hand(update: Update, link: fn(f64) -> f64, y: [f64; 3], l2: f64) -> ([f64; 2], f64) {
    match update {
        Update::PerSample => per_sample_by_hand(link, y, l2),
        Update::MiniBatch => mini_batch_by_hand(link, y, l2),
    }
}

/// For each row in turn: e = f(w.x + b) - y, w -= lr (e x + l2 w), b -= lr e.
fn per_sample_by_hand(link: fn(f64) -> f64, y: [f64; 3], l2: f64) -> ([f64; 2], f64) {
    let lr = f64::from(LR);
    let (mut w, mut b) = ([f64::from(W0[0]), f64::from(W0[1])], f64::from(B0));
    for i in 0..3 {
        let (x0, x1) = (f64::from(X[2 * i]), f64::from(X[2 * i + 1]));
        let e = link(x0 * w[0] + x1 * w[1] + b) - y[i];
        w = [
            w[0] - lr * (e * x0 + l2 * w[0]),
            w[1] - lr * (e * x1 + l2 * w[1]),
        ];
        b -= lr * e;
    }
    (w, b)
}

/// w' = w - lr (X^T e / n + l2 w), b' = b - lr mean(e), e = f(Xw + b) - y.
fn mini_batch_by_hand(link: fn(f64) -> f64, y: [f64; 3], l2: f64) -> ([f64; 2], f64) {
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

const MODES: [Update; 2] = [Update::PerSample, Update::MiniBatch];

/// Mean loss of the call: at the starting weights for a mini-batch, each
/// row's loss before its own step per sample.
fn loss_by_hand(
    update: Update,
    link: fn(f64) -> f64,
    loss: fn(f64, f64) -> f64,
    y: [f64; 3],
) -> f64 {
    let lr = f64::from(LR);
    let (mut w, mut b) = ([f64::from(W0[0]), f64::from(W0[1])], f64::from(B0));
    let mut sum = 0.0;
    for i in 0..3 {
        let (x0, x1) = (f64::from(X[2 * i]), f64::from(X[2 * i + 1]));
        let p = link(x0 * w[0] + x1 * w[1] + b);
        sum += loss(p, y[i]);
        if update == Update::PerSample {
            let e = p - y[i];
            w = [w[0] - lr * e * x0, w[1] - lr * e * x1];
            b -= lr * e;
        }
    }
    sum / 3.0
}

#[test]
fn logistic_step_matches_hand_computation() {
    for update in MODES {
        let mut m = start("logistic", 0.0, update);
        let y = [1.0, 0.0, 1.0];
        let report = m
            .partial_fit(Batch::new(&X, 2).unwrap().into(), &y.map(|v| v as f32), LR)
            .unwrap();
        check(&m, by_hand(update, sigmoid, y, 0.0));
        let log_loss = |p: f64, y: f64| -(y * p.ln() + (1.0 - y) * (1.0 - p).ln());
        let want = loss_by_hand(update, sigmoid, log_loss, y);
        assert!(
            (report.mean_loss_before - want).abs() < 1e-6,
            "{update:?}: {} vs {want}",
            report.mean_loss_before
        );
        assert_eq!(report.rows, 3);
    }
}

#[test]
fn linear_step_matches_hand_computation() {
    for update in MODES {
        let mut m = start("linear", 0.0, update);
        let y = [0.7, -1.2, 2.5];
        let report = m
            .partial_fit(Batch::new(&X, 2).unwrap().into(), &y.map(|v| v as f32), LR)
            .unwrap();
        check(&m, by_hand(update, |z| z, y, 0.0));
        let want = loss_by_hand(update, |z| z, |p, y| (p - y).powi(2), y);
        assert!(
            (report.mean_loss_before - want).abs() < 1e-6,
            "{update:?}: {} vs {want}",
            report.mean_loss_before
        );
    }
}

#[test]
fn l2_step_matches_hand_computation() {
    for update in MODES {
        for (kind, link) in [("logistic", sigmoid as fn(f64) -> f64), ("linear", |z| z)] {
            let mut m = start(kind, 0.5, update);
            let y = [1.0, 0.0, 0.0];
            m.partial_fit(Batch::new(&X, 2).unwrap().into(), &y.map(|v| v as f32), LR)
                .unwrap();
            check(&m, by_hand(update, link, y, 0.5));
        }
    }
}

#[test]
fn per_sample_steps_equal_one_row_calls() {
    let y = [0.7f32, -1.2, 2.5];
    let mut whole = start("linear", 0.3, Update::PerSample);
    whole
        .partial_fit(Batch::new(&X, 2).unwrap().into(), &y, LR)
        .unwrap();
    let mut rows = start("linear", 0.3, Update::PerSample);
    for i in 0..3 {
        rows.partial_fit(
            Batch::new(&X[2 * i..2 * i + 2], 2).unwrap().into(),
            &y[i..=i],
            LR,
        )
        .unwrap();
    }
    assert_eq!(whole.coefficients(), rows.coefficients());
    assert_eq!(whole.intercept(), rows.intercept());
    assert_eq!(whole.steps(), 3);
}

#[test]
fn learning_rate_can_change_between_calls() {
    let mut a = start("linear", 0.0, Update::MiniBatch);
    let x = Batch::new(&X, 2).unwrap();
    let y = [0.7, -1.2, 2.5];
    a.partial_fit(x.into(), &y, 0.001).unwrap();
    let small = a.coefficients()[0] - W0[0];
    let mut b = start("linear", 0.0, Update::MiniBatch);
    b.partial_fit(x.into(), &y, 0.05).unwrap();
    let large = b.coefficients()[0] - W0[0];
    assert!((large / small - 50.0).abs() < 1e-2, "{small} {large}");
    assert_eq!(Loss::Squared.kind(), "linear");
}

#[test]
fn adagrad_steps_match_hand_computation() {
    for update in MODES {
        for (kind, link, y) in [
            ("logistic", sigmoid as fn(f64) -> f64, [1.0, 0.0, 1.0]),
            ("linear", (|z| z) as fn(f64) -> f64, [0.7, -1.2, 2.5]),
        ] {
            for l2 in [0.0, 0.5] {
                let mut m = start_with(kind, l2, update, Optimizer::Adagrad);
                let g0 = f64::from(m.params().initial_accumulator);
                assert_eq!(m.accumulators(), [4.0; 3], "fresh state");
                m.partial_fit(Batch::new(&X, 2).unwrap().into(), &y.map(|v| v as f32), LR)
                    .unwrap();
                check(&m, adagrad_by_hand(update, link, y, f64::from(l2), g0));
            }
        }
    }
}

#[test]
fn adagrad_state_survives_save_and_load() {
    let mut m = start_with("linear", 0.0, Update::PerSample, Optimizer::Adagrad);
    let y = [0.7f32, -1.2, 2.5];
    m.partial_fit(Batch::new(&X, 2).unwrap().into(), &y, LR)
        .unwrap();
    let mut loaded =
        LinearModel::load(Loss::Squared, &refit_plugin::Model::save(&m).unwrap()).unwrap();
    assert_eq!(loaded.accumulators(), m.accumulators());
    // The next step is the same from either: the step sizes carry on.
    m.partial_fit(Batch::new(&X, 2).unwrap().into(), &y, LR)
        .unwrap();
    loaded
        .partial_fit(Batch::new(&X, 2).unwrap().into(), &y, LR)
        .unwrap();
    assert_eq!(loaded.coefficients(), m.coefficients());
    assert_eq!(loaded.intercept(), m.intercept());
}
