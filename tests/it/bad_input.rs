//! Bad input never panics and never changes the weights: each case is a typed
//! error, for every built-in plugin.

use crate::common;

use common::{KINDS, probe, trained};
use refit::plugins::{Batch, Model, PluginError};

/// Runs `fit` on every built-in model; checks the error with `expect` and that
/// the saved bytes and predictions are unchanged.
fn refused(x: &[f32], width: usize, y: &[f32], lr: f32, expect: fn(&PluginError) -> bool) {
    for (kind, task) in KINDS {
        let mut m: Box<dyn Model> = trained(kind, task);
        let before = m.save().unwrap();
        let probe = probe();
        let p_before = m.predict(Batch::new(&probe, 3).unwrap().into()).unwrap();
        let result = Batch::new(x, width).and_then(|b| m.partial_fit(b.into(), y, lr));
        match result {
            Err(e) => assert!(expect(&e), "{kind}/{task}: unexpected error {e:?}"),
            Ok(r) => panic!("{kind}/{task}: accepted bad input: {r:?}"),
        }
        assert_eq!(m.save().unwrap(), before, "{kind}/{task}: weights changed");
        assert_eq!(
            m.predict(Batch::new(&probe, 3).unwrap().into()).unwrap(),
            p_before
        );
    }
}

const X2: [f32; 6] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6];

#[test]
fn wrong_width() {
    refused(&[0.1, 0.2, 0.3, 0.4], 2, &[1.0, 0.0], 0.01, |e| {
        matches!(
            e,
            PluginError::WidthMismatch {
                expected: 3,
                got: 2
            }
        )
    });
}

#[test]
fn ragged_rows() {
    refused(&[0.1, 0.2, 0.3, 0.4], 3, &[1.0], 0.01, |e| {
        matches!(e, PluginError::RaggedBatch { .. })
    });
}

#[test]
fn nan_feature() {
    refused(
        &[0.1, f32::NAN, 0.3, 0.4, 0.5, 0.6],
        3,
        &[1.0, 0.0],
        0.01,
        |e| matches!(e, PluginError::NonFiniteFeature { row: 0, feature, .. } if feature == "b"),
    );
}

#[test]
fn infinite_feature() {
    refused(
        &[0.1, 0.2, 0.3, 0.4, 0.5, f32::NEG_INFINITY],
        3,
        &[1.0, 0.0],
        0.01,
        |e| matches!(e, PluginError::NonFiniteFeature { row: 1, feature, .. } if feature == "c"),
    );
}

#[test]
fn nan_label() {
    refused(&X2, 3, &[1.0, f32::NAN], 0.01, |e| {
        matches!(e, PluginError::NonFiniteLabel { row: 1, .. })
    });
}

#[test]
fn infinite_label() {
    refused(&X2, 3, &[f32::INFINITY, 0.0], 0.01, |e| {
        matches!(e, PluginError::NonFiniteLabel { row: 0, .. })
    });
}

#[test]
fn classifier_label_other_than_zero_or_one() {
    for (kind, task) in KINDS
        .into_iter()
        .filter(|k| k.1 == refit::plugins::Task::Classification)
    {
        let mut m = trained(kind, task);
        let before = m.save().unwrap();
        let err = m
            .partial_fit(Batch::new(&X2, 3).unwrap().into(), &[1.0, 2.0], 0.01)
            .unwrap_err();
        assert!(
            matches!(err, PluginError::InvalidLabel { row: 1, value } if value == 2.0),
            "{err:?}"
        );
        let err = m
            .partial_fit(Batch::new(&X2, 3).unwrap().into(), &[-1.0, 0.0], 0.01)
            .unwrap_err();
        assert!(matches!(err, PluginError::InvalidLabel { row: 0, .. }));
        assert_eq!(m.save().unwrap(), before);
    }
}

#[test]
fn label_count_differs_from_rows() {
    refused(&X2, 3, &[1.0], 0.01, |e| {
        matches!(e, PluginError::LabelCount { rows: 2, labels: 1 })
    });
}

#[test]
fn empty_batch() {
    refused(&[], 3, &[], 0.01, |e| matches!(e, PluginError::EmptyBatch));
}

#[test]
fn zero_learning_rate() {
    refused(&X2, 3, &[1.0, 0.0], 0.0, |e| {
        matches!(e, PluginError::InvalidLearningRate(_))
    });
}

#[test]
fn negative_learning_rate() {
    refused(&X2, 3, &[1.0, 0.0], -0.01, |e| {
        matches!(e, PluginError::InvalidLearningRate(_))
    });
}

#[test]
fn nan_learning_rate() {
    refused(&X2, 3, &[1.0, 0.0], f32::NAN, |e| {
        matches!(e, PluginError::InvalidLearningRate(_))
    });
}

#[test]
fn infinite_learning_rate() {
    refused(&X2, 3, &[1.0, 0.0], f32::INFINITY, |e| {
        matches!(e, PluginError::InvalidLearningRate(_))
    });
}

#[test]
fn update_that_overflows_is_rolled_back() {
    use refit::plugins::{self, ModelSpec, Params, Task};
    // Finite input and learning rate, but the step would throw the weights
    // far past the safeguard's bound: refused, weights kept.
    let x = Batch::new(&X2, 3).unwrap();
    let mut sgd = Params::new();
    sgd.insert("optimizer".into(), "sgd".into());
    let registry = plugins::builtin();
    let models = [
        trained("logistic", Task::Classification),
        trained("linear", Task::Regression),
        registry
            .create(
                ModelSpec::new("mlp", Task::Classification, common::FEATURES),
                &sgd,
            )
            .unwrap(),
        registry
            .create(
                ModelSpec::new("mlp", Task::Regression, common::FEATURES),
                &sgd,
            )
            .unwrap(),
    ];
    for mut m in models {
        let before = m.save().unwrap();
        let err = m.partial_fit(x.into(), &[1.0, 0.0], 1e30).unwrap_err();
        assert!(
            matches!(err, PluginError::Diverged(_)),
            "{:?}: {err:?}",
            m.spec()
        );
        assert!(err.to_string().contains("weights kept"));
        assert_eq!(m.save().unwrap(), before);
        // The model still learns from sane input afterwards.
        m.partial_fit(Batch::new(&X2, 3).unwrap().into(), &[1.0, 0.0], 0.01)
            .unwrap();
    }
}

#[test]
fn predict_refuses_bad_rows_without_panicking() {
    for (kind, task) in KINDS {
        let m = trained(kind, task);
        let serving = m.snapshot();
        assert!(matches!(
            serving.predict_row((&[1.0, 2.0]).into()),
            Err(PluginError::WidthMismatch { .. })
        ));
        assert!(matches!(
            serving.predict_row((&[1.0, f32::NAN, 0.0]).into()),
            Err(PluginError::NonFiniteFeature { .. })
        ));
        assert!(matches!(
            m.predict(Batch::new(&[], 3).unwrap().into()),
            Err(PluginError::EmptyBatch)
        ));
    }
}

#[test]
fn non_finite_gradient_is_refused() {
    use refit::plugins::linear::{LinearModel, LinearParams, Loss};
    // Without preprocessing, squares of 3e20 overflow f32: the gradient is
    // infinite and the update is refused before it touches the weights.
    let mut m = LinearModel::new(Loss::Squared, common::FEATURES, LinearParams::raw()).unwrap();
    m.partial_fit(Batch::new(&X2, 3).unwrap().into(), &[1.0, 0.0], 0.01)
        .unwrap();
    let before = m.save().unwrap();
    let x = [3e20f32, 3e20, 3e20, 3e20, 3e20, 3e20];
    let err = m
        .partial_fit(Batch::new(&x, 3).unwrap().into(), &[1e20, -1e20], 0.01)
        .unwrap_err();
    assert!(matches!(err, PluginError::Diverged(_)), "{err:?}");
    assert_eq!(m.save().unwrap(), before);
}

#[test]
fn large_gradient_is_clipped_or_refused_by_config() {
    use refit::plugins::linear::{LinearModel, LinearParams, Loss};
    use refit::plugins::safeguard::{Action, Safeguard};
    let x = [1e3f32, 1e3, 1e3];
    let params = |on_large_gradient| LinearParams {
        safeguard: Safeguard {
            max_grad_norm: 10.0,
            on_large_gradient,
            ..Default::default()
        },
        ..LinearParams::raw()
    };
    let mut clip = LinearModel::new(Loss::Squared, common::FEATURES, params(Action::Clip)).unwrap();
    let report = clip
        .partial_fit(Batch::new(&x, 3).unwrap().into(), &[50.0], 0.1)
        .unwrap();
    assert!(report.clipped);
    // Gradient (-50e3 per coefficient, -50 intercept) scaled to norm 10.
    let norm: f32 = clip
        .coefficients()
        .iter()
        .chain([&clip.intercept()])
        .map(|w| w * w)
        .sum::<f32>()
        .sqrt();
    assert!((norm - 0.1 * 10.0).abs() < 1e-4, "step norm {norm}");
    assert!((report.grad_norm.unwrap() - 50.0 * (3e6f64 + 1.0).sqrt()).abs() < 1.0);

    let mut refuse =
        LinearModel::new(Loss::Squared, common::FEATURES, params(Action::Refuse)).unwrap();
    let err = refuse
        .partial_fit(Batch::new(&x, 3).unwrap().into(), &[50.0], 0.1)
        .unwrap_err();
    assert!(
        err.to_string().contains("exceeds safeguard.max_grad_norm"),
        "{err}"
    );
    assert!(refuse.coefficients().iter().all(|w| *w == 0.0));
}

#[test]
fn a_diverging_update_is_skipped_with_its_reason_and_nan_is_never_served() {
    // Raw features (no standardisation) and a safeguard that refuses large
    // gradients: rows of 3e20 make the squared error's gradient explode.
    let dir = tempfile::tempdir().unwrap();
    let mut c = refit::config::Config::from_toml_str(
        "[model]\nkind = \"linear\"\n[model.params]\nupdate = \"per_sample\"\n[model.params.safeguard]\non_large_gradient = \"refuse\"\n[model.preprocessing]\nstandardize = false\n[online]\nmin_samples_per_update = 2\n",
    )
    .unwrap();
    c.agent.data_dir = dir.path().to_owned();
    let agent = refit::Agent::builder(c)
        .features(["a", "b", "c"])
        .start()
        .unwrap();
    let events = agent.subscribe().unwrap();
    agent
        .ingest(&[0.1, 0.2, 0.3, 0.3, 0.2, 0.1], &[1.0, 2.0])
        .unwrap();
    agent.sync().unwrap();
    let good = agent.predict(&[0.1, 0.2, 0.3]).unwrap();
    agent
        .ingest(&[3e20, 3e20, 3e20, 3e20, 3e20, 3e20], &[1e20, -1e20])
        .unwrap();
    agent.sync().unwrap();
    let skipped: Vec<String> = events
        .try_iter()
        .filter_map(|e| match e {
            refit::events::Event::UpdateSkipped { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].contains("refused"), "{}", skipped[0]);
    let after = agent.predict(&[0.1, 0.2, 0.3]).unwrap();
    assert_eq!(after.version, good.version);
    assert_eq!(after.values, good.values);
    assert!(after.values.iter().all(|v| v.is_finite()));
    agent.shutdown().unwrap();
}

#[test]
fn offline_training_refuses_ragged_rows() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = refit::config::Config::default();
    c.agent.data_dir = dir.path().to_owned();
    let agent = refit::Agent::builder(c)
        .features(["a", "b", "c"])
        .start()
        .unwrap();
    // Seven values are two rows of three and one left over.
    let err = agent
        .train_offline(&[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7], &[1.0, 0.0])
        .unwrap_err();
    assert!(
        matches!(
            err,
            refit::AgentError::Plugin(PluginError::RaggedBatch { len: 7, width: 3 })
        ),
        "{err}"
    );
    assert!(agent.versions().unwrap().is_empty());
    agent.shutdown().unwrap();
}
