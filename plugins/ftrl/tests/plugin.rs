//! refit-ftrl behind the plugin interface: input kind, bad input, save and
//! load, parameters.

use refit_ftrl::FtrlFactory;
use refit_plugin::{
    Batch, InputKind, ModelSpec, Params, PluginError, PluginFactory, SparseBatch, Task,
};

fn params(json: &str) -> Params {
    serde_json::from_str(json).unwrap()
}

fn spec() -> ModelSpec {
    ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new())
}

#[test]
fn dense_batches_are_refused_by_name() {
    let mut m = FtrlFactory
        .create(spec(), &params(r#"{"bits": 4}"#))
        .unwrap();
    assert_eq!(m.input(), InputKind::Sparse);
    let x = Batch::new(&[1.0, 2.0], 2).unwrap();
    let err = m.partial_fit(x.into(), &[1.0], 0.1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "model `ftrl` takes sparse batches, not dense ones"
    );
    assert!(matches!(
        m.snapshot().predict_row((&[1.0, 2.0]).into()),
        Err(PluginError::WrongInput { .. })
    ));
}

#[test]
fn bad_sparse_input_leaves_the_weights_alone() {
    let mut m = FtrlFactory
        .create(spec(), &params(r#"{"bits": 4}"#))
        .unwrap();
    let good = SparseBatch::new(&[0, 2], &[1, 2], &[1.0, 1.0], 16).unwrap();
    m.partial_fit(good.into(), &[1.0], 0.1).unwrap();
    let before = m.save().unwrap();
    let wrong_dim = SparseBatch::new(&[0, 1], &[1], &[1.0], 32).unwrap();
    assert!(
        m.partial_fit(wrong_dim.into(), &[1.0], 0.1)
            .unwrap_err()
            .to_string()
            .contains("the batch has 32 coordinates, the model 2^4 = 16")
    );
    let err = m.partial_fit(good.into(), &[0.5], 0.1).unwrap_err();
    assert!(
        matches!(err, PluginError::InvalidLabel { row: 0, .. }),
        "{err}"
    );
    let err = m.partial_fit(good.into(), &[1.0, 0.0], 0.1).unwrap_err();
    assert!(matches!(err, PluginError::LabelCount { .. }), "{err}");
    let err = m.partial_fit(good.into(), &[1.0], f32::NAN).unwrap_err();
    assert!(matches!(err, PluginError::InvalidLearningRate(_)), "{err}");
    assert_eq!(m.save().unwrap(), before);
}

#[test]
fn sgd_mode_diverging_is_refused_and_rolled_back() {
    let mut m = FtrlFactory
        .create(spec(), &params(r#"{"bits": 4, "mode": "sgd", "l2": 0}"#))
        .unwrap();
    let fine = SparseBatch::new(&[0, 1], &[3], &[1.0], 16).unwrap();
    m.partial_fit(fine.into(), &[1.0], 0.1).unwrap();
    let before = m.save().unwrap();
    let huge = SparseBatch::new(&[0, 1], &[3], &[1.0e30], 16).unwrap();
    let err = m.partial_fit(huge.into(), &[0.0], 1.0e10).unwrap_err();
    assert!(matches!(err, PluginError::Diverged(_)), "{err}");
    assert_eq!(m.save().unwrap(), before);
}

#[test]
fn save_and_load_keep_every_coordinate() {
    for mode in ["ftrl", "sgd"] {
        let p = params(&format!(r#"{{"bits": 8, "mode": "{mode}", "l1": 0.1}}"#));
        let mut m = FtrlFactory.create(spec(), &p).unwrap();
        let x = SparseBatch::new(
            &[0, 2, 3, 5],
            &[7, 200, 7, 1, 255],
            &[1.0, 0.5, 1.0, -2.0, 1.0],
            256,
        )
        .unwrap();
        for _ in 0..20 {
            m.partial_fit(x.into(), &[1.0, 0.0, 1.0], 0.1).unwrap();
        }
        let bytes = m.save().unwrap();
        let back = FtrlFactory.load(&bytes).unwrap();
        assert_eq!(
            back.predict(x.into()).unwrap(),
            m.predict(x.into()).unwrap()
        );
        assert_eq!(back.save().unwrap(), bytes);
        // Only moved coordinates are stored: 5 distinct indices + the bias.
        assert!(bytes.len() < 400, "{mode}: {} bytes", bytes.len());
        let mut damaged = bytes.clone();
        let last = damaged.len() - 6;
        damaged[last] ^= 0xff;
        assert!(FtrlFactory.load(&damaged).is_err());
    }
}

#[test]
fn bad_parameters_name_the_key() {
    for (json, key) in [
        (r#"{"bits": 0}"#, "bits"),
        (r#"{"bits": 40}"#, "bits"),
        (r#"{"alpha": 0}"#, "alpha"),
        (r#"{"l1": -1}"#, "l1"),
        (r#"{"mode": "adam"}"#, "unknown variant `adam`"),
        (r#"{"rate": 1}"#, "unknown field `rate`"),
    ] {
        let err = FtrlFactory.create(spec(), &params(json)).unwrap_err();
        assert!(err.to_string().contains(key), "{json}: {err}");
    }
    let regression = ModelSpec::new("ftrl", Task::Regression, Vec::<String>::new());
    let err = FtrlFactory.create(regression, &Params::new()).unwrap_err();
    assert!(err.to_string().contains("is a classifier"), "{err}");
}
