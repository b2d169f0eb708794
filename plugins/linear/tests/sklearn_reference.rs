//! refit against scikit-learn: the fixture `tests/fixtures/sklearn_sgd.json`
//! was written by `benches/peers/make_sgd_fixture.py` (SGDClassifier with
//! log loss and SGDRegressor, constant learning rate 0.01, alpha 0, no
//! shuffling, one row per partial_fit). refit with batch size 1 must reproduce
//! the coefficients to 1e-4.

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

fn replay(loss: Loss, f: &Fixture, labels: &[f32], pick: fn(&Checkpoint) -> &Weights) {
    let mut model = LinearModel::new(loss, f.features.clone(), LinearParams::raw()).unwrap();
    let mut checked = 0;
    let mut worst = 0.0f64;
    for (i, row) in f.x.iter().enumerate() {
        model
            .partial_fit(
                &Batch::new(row, row.len()).unwrap(),
                &labels[i..=i],
                f.learning_rate,
            )
            .unwrap();
        if let Some(cp) = f.checkpoints.iter().find(|c| c.rows == i + 1) {
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
    eprintln!("{loss:?}: largest coefficient difference from scikit-learn {worst:.3e}");
}

#[test]
fn logistic_matches_sgd_classifier() {
    let f = fixture();
    replay(Loss::Log, &f, &f.y_class, |c| &c.classifier);
}

#[test]
fn linear_matches_sgd_regressor() {
    let f = fixture();
    replay(Loss::Squared, &f, &f.y_reg, |c| &c.regressor);
}

#[test]
fn exported_classifier_predicts_like_scikit_learn() {
    let f = fixture();
    let c = Coefficients::from_json(&f.classifier_export.to_string()).unwrap();
    c.check_features(&f.features).unwrap();
    let model = LinearModel::from_coefficients(&c, LinearParams::default()).unwrap();
    let serving = model.snapshot();
    for (row, want) in f.x.iter().zip(&f.classifier_predict_proba) {
        let got = serving.predict_row(row).unwrap();
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
