//! The built-in models learn: logistic regression on the churn stream,
//! linear regression recovering known coefficients, the MLP on XOR.

use refit::metrics::{Scores, auc};
use refit::plugins::{self, Batch, ModelSpec, Params};
use refit::{demo, progressive};

fn settings(batch: usize, lr: f32) -> progressive::Settings {
    progressive::Settings {
        batch,
        learning_rate: lr,
        window: 2_500,
    }
}

#[test]
fn logistic_learns_churn_before_the_drift() {
    let stream = demo::churn(42, demo::DEFAULT_ROWS);
    let mut model = plugins::create_for(&stream, "logistic").unwrap();
    let report = progressive::run(model.as_mut(), &stream, &settings(32, 0.05), |_| {}).unwrap();
    // Windows 5000-7500 and 7500-10000: after warm-up, before the drift.
    for w in &report.windows[2..4] {
        let (
            Scores::Classification {
                auc: Some(model), ..
            },
            Scores::Classification {
                auc: Some(oracle), ..
            },
        ) = (w.model, w.oracle)
        else {
            panic!("classification scores expected")
        };
        assert!(
            model >= 0.85,
            "rows {}-{}: AUC {model:.4} (oracle {oracle:.4})",
            w.start,
            w.end
        );
        assert!(model <= oracle + 0.01);
    }
    let oracle_auc = auc(&stream.oracle[..10_000], &stream.y[..10_000]).unwrap();
    assert!(
        oracle_auc > 0.87 && oracle_auc < 0.91,
        "oracle AUC {oracle_auc}"
    );
}

#[test]
fn linear_recovers_known_coefficients_on_noiseless_data() {
    let stream = demo::clv_with_noise(5, demo::DEFAULT_ROWS, 0.0);
    let truth = &stream.segments[0];
    let rows = truth.end; // the rows before the concept drift
    let width = stream.width();
    let mut model = plugins::linear::LinearModel::new(
        plugins::linear::Loss::Squared,
        stream.features.clone(),
        Default::default(),
    )
    .unwrap();
    use refit::plugins::Model;
    for _epoch in 0..60 {
        for start in (0..rows).step_by(100) {
            let end = (start + 100).min(rows);
            let x = Batch::new(&stream.x[start * width..end * width], width).unwrap();
            model
                .partial_fit(x.into(), &stream.y[start..end], 0.03)
                .unwrap();
        }
    }
    // The model learns on standardised features; fold the scaling back.
    let (raw, intercept) = model.raw_coefficients().unwrap();
    for ((name, got), want) in stream.features.iter().zip(&raw).zip(&truth.coefficients) {
        assert!((got - want).abs() < 1e-2, "{name}: {got} vs {want}");
    }
    assert!(
        (intercept - truth.intercept).abs() < 1e-2,
        "intercept {intercept}"
    );
}

#[test]
fn mlp_learns_xor_where_logistic_cannot() {
    let stream = demo::xor(11, 20_000);
    let tail = |kind: &str, params: Params, lr: f32| {
        let mut model = plugins::builtin()
            .create(
                ModelSpec::new(kind, stream.task, stream.features.clone()),
                &params,
            )
            .unwrap();
        let report = progressive::run(model.as_mut(), &stream, &settings(32, lr), |_| {}).unwrap();
        match report.windows.last().unwrap().model {
            Scores::Classification { auc: Some(a), .. } => a,
            other => panic!("{other:?}"),
        }
    };
    let mlp = tail("mlp", Params::new(), 0.01);
    let logistic = tail("logistic", Params::new(), 0.05);
    assert!(mlp >= 0.95, "mlp AUC {mlp}");
    assert!((logistic - 0.5).abs() < 0.05, "logistic AUC {logistic}");
}

#[test]
fn mlp_trains_with_plain_sgd_too() {
    let stream = demo::xor(12, 20_000);
    let mut params = Params::new();
    params.insert("optimizer".into(), "sgd".into());
    params.insert("hidden".into(), serde_json::json!([16, 16]));
    let mut model = plugins::builtin()
        .create(
            ModelSpec::new("mlp", stream.task, stream.features.clone()),
            &params,
        )
        .unwrap();
    let report = progressive::run(model.as_mut(), &stream, &settings(16, 0.2), |_| {}).unwrap();
    let Scores::Classification { auc: Some(a), .. } = report.windows.last().unwrap().model else {
        panic!()
    };
    assert!(a >= 0.9, "sgd mlp AUC {a}");
}
