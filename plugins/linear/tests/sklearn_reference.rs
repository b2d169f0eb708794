//! refit against scikit-learn: the fixture `tests/fixtures/sklearn_sgd.json`
//! was written by `benches/peers/make_sgd_fixture.py` (SGDClassifier with
//! log loss and SGDRegressor, constant learning rate 0.01, alpha 0, no
//! shuffling, one row per partial_fit). refit's default per-sample update
//! must reproduce the coefficients to 1e-4 whether it gets one row per call
//! or many.

use refit_linear::{Coefficients, LinearModel, LinearParams, Loss};
use refit_plugin::{Batch, Model};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    learning_rate: f32,
    features: Vec<String>,
    x: Vec<Vec<f32>>,
    y_class: Vec<f32>,
    y_reg: Vec<f32>,
    checkpoints: Vec<Checkpoint>,
    classifier_predict_proba: Vec<f64>,
    classifier_export: serde_json::Value,
}

#[derive(Deserialize)]
struct Checkpoint {
    rows: usize,
    classifier: Weights,
    regressor: Weights,
}

#[derive(Deserialize)]
struct Weights {
    coef: Vec<f64>,
    intercept: f64,
}

fn fixture() -> Fixture {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/sklearn_sgd.json"
    );
    let text = std::fs::read_to_string(path).expect("fixture present");
    serde_json::from_str(&text).expect("fixture parses")
}

/// Feeds the fixture's rows in calls of at most `per_call` rows, cut at each
/// checkpoint, and compares the weights at every checkpoint.
fn replay(
    loss: Loss,
    f: &Fixture,
    labels: &[f32],
    pick: fn(&Checkpoint) -> &Weights,
    per_call: usize,
) {
    let mut model = LinearModel::new(loss, f.features.clone(), LinearParams::raw()).unwrap();
    let width = f.features.len();
    let mut checked = 0;
    let mut worst = 0.0f64;
    let mut start = 0;
    while start < f.x.len() {
        let next_cp = f.checkpoints.iter().map(|c| c.rows).find(|&r| r > start);
        let end = (start + per_call).min(next_cp.unwrap_or(f.x.len()));
        let rows: Vec<f32> = f.x[start..end].iter().flatten().copied().collect();
        model
            .partial_fit(
                Batch::new(&rows, width).unwrap().into(),
                &labels[start..end],
                f.learning_rate,
            )
            .unwrap();
        start = end;
        if let Some(cp) = f.checkpoints.iter().find(|c| c.rows == end) {
            let want = pick(cp);
            for (j, (got, want)) in model.coefficients().iter().zip(&want.coef).enumerate() {
                worst = worst.max((f64::from(*got) - want).abs());
                assert!(
                    (f64::from(*got) - want).abs() < 1e-4,
                    "{loss:?} after {} rows, coefficient {j}: refit {got}, scikit-learn {want}",
                    cp.rows
                );
            }
            assert!((f64::from(model.intercept()) - want.intercept).abs() < 1e-4);
            checked += 1;
        }
    }
    assert_eq!(checked, f.checkpoints.len());
    eprintln!(
        "{loss:?}, {per_call} rows per call: largest coefficient difference from scikit-learn {worst:.3e}"
    );
}

#[test]
fn logistic_matches_sgd_classifier() {
    let f = fixture();
    for per_call in [1, 7, 256] {
        replay(Loss::Log, &f, &f.y_class, |c| &c.classifier, per_call);
    }
}

#[test]
fn linear_matches_sgd_regressor() {
    let f = fixture();
    for per_call in [1, 7, 256] {
        replay(Loss::Squared, &f, &f.y_reg, |c| &c.regressor, per_call);
    }
}

#[test]
fn exported_classifier_predicts_like_scikit_learn() {
    let f = fixture();
    let c = Coefficients::from_json(&f.classifier_export.to_string()).unwrap();
    c.check_features(&f.features).unwrap();
    let model = LinearModel::from_coefficients(&c, LinearParams::default()).unwrap();
    let serving = model.snapshot();
    for (row, want) in f.x.iter().zip(&f.classifier_predict_proba) {
        let got = serving.predict_row(row.into()).unwrap();
        assert!((f64::from(got) - want).abs() < 1e-6, "{got} vs {want}");
    }
}

#[test]
fn warm_start_refuses_mismatched_features() {
    let f = fixture();
    let c = Coefficients::from_json(&f.classifier_export.to_string()).unwrap();
    let mut other = f.features.clone();
    other.swap(0, 1);
    let err = c.check_features(&other).unwrap_err().to_string();
    assert!(
        err.contains("column 0 is `f0` in the file but `f1` in the config"),
        "{err}"
    );
    let err = c.check_features(&f.features[..3]).unwrap_err().to_string();
    assert!(
        err.contains("the file has 5 features, the config 3"),
        "{err}"
    );
}
