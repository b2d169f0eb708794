//! Multiclass models and text levels: save/load and the serving snapshot
//! agree (within 1e-6, the snapshot tolerance), softmax (`logistic`) and
//! one-vs-rest (`mlp`) learn a nearly separable problem, and a CSV with a text feature and text class labels
//! runs through `refit run` with accuracy in its summary.

use crate::common;

use refit::plugins::{self, Batch, ModelSpec, Params, Task, level_code};

/// Three classes, a numeric feature and a text category: the class is
/// mostly the plan's, shifted by `x`.
fn data(n: usize) -> (Vec<f32>, Vec<f32>) {
    let plans = ["basic", "gold", "silver"];
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..n {
        let class = i % 3;
        let plan = if i % 7 == 0 {
            plans[(class + 1) % 3]
        } else {
            plans[class]
        };
        x.extend([
            (class as f32) * 1.5 + ((i * 37 % 11) as f32 / 11.0 - 0.5),
            level_code(plan),
        ]);
        y.push(class as f32);
    }
    (x, y)
}

fn spec(kind: &str) -> ModelSpec {
    ModelSpec::new(kind, Task::Classification, ["x", "plan"])
        .with_categorical(["plan"])
        .with_classes(["basic", "gold", "silver"])
}

fn params() -> Params {
    let mut p = Params::new();
    p.insert(
        "preprocessing".into(),
        serde_json::json!({"features": {"plan": {"type": "categorical"}}}),
    );
    p
}

#[test]
fn multiclass_models_with_text_levels_round_trip_and_agree_with_their_snapshot() {
    let registry = plugins::builtin();
    let (x, y) = data(600);
    for kind in ["logistic", "mlp"] {
        let mut model = registry.create(spec(kind), &params()).unwrap();
        for (xs, ys) in x.chunks(60).zip(y.chunks(30)) {
            model
                .partial_fit(Batch::new(xs, 2).unwrap().into(), ys, 0.1)
                .unwrap();
        }
        let probe = Batch::new(&x[..60], 2).unwrap();
        let serving = model.snapshot();
        let proba = serving.predict_proba(probe.into()).unwrap();
        for row in proba.chunks(3) {
            assert!(
                (row.iter().sum::<f32>() - 1.0).abs() < 1e-5,
                "{kind}: {row:?}"
            );
        }
        // The model's forward pass and its snapshot pick the same classes.
        let top = model.predict(probe.into()).unwrap();
        assert_eq!(top, serving.predict(probe.into()).unwrap(), "{kind}");
        let accuracy = refit::metrics::accuracy(&top, &y[..30]);
        assert!(
            accuracy > 0.8,
            "{kind}: accuracy {accuracy} on a nearly separable problem"
        );
        // Save and load: same spec (classes, categorical), same answers.
        let loaded = registry.load(&model.save().unwrap()).unwrap();
        assert_eq!(loaded.spec(), model.spec(), "{kind}");
        let again = loaded.snapshot().predict_proba(probe.into()).unwrap();
        for (a, b) in proba.iter().zip(&again) {
            assert!((a - b).abs() <= 1e-6, "{kind}: {a} vs {b}");
        }
        // An unseen text level predicts; a class index out of range is refused
        // and changes nothing.
        let unseen = [1.0, level_code("platinum")];
        let mut p = [0.0; 3];
        loaded
            .snapshot()
            .predict_proba_row((&unseen).into(), &mut p)
            .unwrap();
        let mut reloaded = loaded;
        let err = reloaded
            .partial_fit(Batch::new(&x[..2], 2).unwrap().into(), &[3.0], 0.1)
            .unwrap_err();
        assert!(err.to_string().contains("invalid label 3"), "{kind}: {err}");
        assert_eq!(
            reloaded.snapshot().predict_proba(probe.into()).unwrap(),
            again
        );
    }
}

#[test]
fn a_csv_with_text_features_and_text_classes_reports_accuracy() {
    let dir = tempfile::tempdir().unwrap();
    let mut csv = String::from("x,plan,y\n");
    let (x, y) = data(1_500);
    let names = ["basic", "gold", "silver"];
    for (row, label) in x.chunks(2).zip(&y) {
        let plan = names.iter().find(|n| level_code(n) == row[1]).unwrap();
        csv.push_str(&format!("{},{plan},{}\n", row[0], names[*label as usize]));
    }
    std::fs::write(dir.path().join("plans.csv"), csv).unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/config.toml"),
        dir.path().join("config.toml"),
    )
    .unwrap();
    let out = common::refit(
        dir.path(),
        &["run", "--input", "plans.csv", "--label", "y", "--json"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["metric"]["name"], "accuracy", "{v}");
    let accuracy = v["metric"]["value"].as_f64().unwrap();
    assert!(accuracy > 0.8, "{v}");
    assert_eq!(v["scores"]["task"], "multiclass");
    assert!(v["scores"]["macro_f1"].as_f64().unwrap() > 0.75, "{v}");
    assert!(v["scores"]["log_loss"].as_f64().unwrap() < 0.8, "{v}");
}
