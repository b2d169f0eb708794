//! Save then load gives bit-identical predictions; damaged, foreign and future
//! files are refused with distinct errors.

use crate::common;

use common::{KINDS, probe, trained};
use refit::plugins::{self, Batch, PluginError, envelope};

#[test]
fn round_trip_is_bit_identical() {
    let registry = plugins::builtin();
    for (kind, task) in KINDS {
        let m = trained(kind, task);
        let bytes = m.save().unwrap();
        let loaded = registry.load(&bytes).unwrap();
        assert_eq!(loaded.spec(), m.spec());
        let x = probe();
        let x = Batch::new(&x, 3).unwrap();
        let (a, b) = (
            m.predict(x.into()).unwrap(),
            loaded.predict(x.into()).unwrap(),
        );
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        let (sa, sb) = (
            m.snapshot().predict(x.into()).unwrap(),
            loaded.snapshot().predict(x.into()).unwrap(),
        );
        assert_eq!(
            sa.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            sb.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        // Saving the loaded model gives the same bytes.
        assert_eq!(loaded.save().unwrap(), bytes, "{kind}");
    }
}

#[test]
fn truncated_file_is_refused() {
    let registry = plugins::builtin();
    for (kind, task) in KINDS {
        let bytes = trained(kind, task).save().unwrap();
        for cut in [bytes.len() - 1, bytes.len() / 2, 12] {
            assert!(
                matches!(
                    registry.load(&bytes[..cut]),
                    Err(PluginError::Truncated { .. })
                ),
                "{kind} cut at {cut}"
            );
        }
    }
}

#[test]
fn altered_file_is_refused() {
    let registry = plugins::builtin();
    for (kind, task) in KINDS {
        let mut bytes = trained(kind, task).save().unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x01;
        assert!(
            matches!(
                registry.load(&bytes),
                Err(PluginError::ChecksumMismatch { .. })
            ),
            "{kind}"
        );
    }
}

#[test]
fn file_of_another_plugin_is_refused() {
    let logistic = trained("logistic", plugins::Task::Classification)
        .save()
        .unwrap();
    let mlp = trained("mlp", plugins::Task::Classification)
        .save()
        .unwrap();
    let registry = plugins::builtin();
    for (file, other) in [
        (&logistic, "mlp"),
        (&logistic, "linear"),
        (&mlp, "logistic"),
    ] {
        let err = registry.get(other).unwrap().load(file).unwrap_err();
        assert!(
            matches!(err, PluginError::WrongKind { ref expected, .. } if expected == other),
            "{err:?}"
        );
    }
}

#[test]
fn future_format_version_is_refused() {
    let registry = plugins::builtin();
    for (kind, task) in KINDS {
        let bytes = trained(kind, task).save().unwrap();
        let (mut header, payload) = envelope::decode(&bytes).unwrap();
        header.format_version += 1;
        let future = envelope::encode(&header, payload);
        let err = registry.load(&future).unwrap_err();
        assert!(
            matches!(err, PluginError::UnsupportedVersion { found, supported, .. } if found == supported + 1),
            "{kind}: {err:?}"
        );
        assert!(err.to_string().contains("newer than this build supports"));
    }
}

#[test]
fn garbage_and_unknown_kind_are_refused() {
    let registry = plugins::builtin();
    assert_eq!(
        registry.load(b"{\"not\": \"a model\"}").unwrap_err(),
        PluginError::BadMagic
    );
    let bytes = trained("linear", plugins::Task::Regression).save().unwrap();
    let (mut header, payload) = envelope::decode(&bytes).unwrap();
    header.kind = "forest".into();
    let err = registry
        .load(&envelope::encode(&header, payload))
        .unwrap_err();
    assert!(matches!(err, PluginError::UnknownKind { .. }));
    assert!(
        err.to_string()
            .contains("registered: ftrl, linear, logistic, mlp")
    );
    // A well-framed envelope whose payload is nonsense.
    header.kind = "linear".into();
    let err = registry
        .load(&envelope::encode(&header, b"[1,2"))
        .unwrap_err();
    assert!(matches!(err, PluginError::Corrupt(_)), "{err:?}");
}

/// A stored model whose categorical feature lists more levels than its
/// one-hot slots (a damaged or crafted file with a valid checksum) is
/// refused at load, for each kind with a preprocessor: it used to load and
/// then index past the slots when predicting.
#[test]
fn a_categorical_state_with_too_many_levels_is_refused_at_load() {
    use refit_plugin_kit::preprocess::{FeatureOverride, FeatureType};
    let registry = plugins::builtin();
    for (kind, task) in [
        ("logistic", plugins::Task::Classification),
        ("mlp", plugins::Task::Classification),
    ] {
        let mut c = refit::config::Config::default();
        c.model.preprocessing.onehot_max = 2;
        c.model.preprocessing.features.insert(
            "c".into(),
            FeatureOverride {
                kind: Some(FeatureType::Categorical),
                ..Default::default()
            },
        );
        c.model.kind = kind.into();
        let spec = plugins::ModelSpec::new(kind, task, ["c", "x"]);
        let model = registry
            .create(spec, &c.model.plugin_params().unwrap())
            .unwrap();
        let (header, payload) = envelope::decode(&model.save().unwrap())
            .map(|(h, p)| (h, p.to_vec()))
            .unwrap();
        let mut json: serde_json::Value = serde_json::from_slice(&payload).unwrap();
        json["preprocessor"]["features"][0]["levels"] =
            serde_json::json!([1.0f32.to_bits(), 2.0f32.to_bits(), 3.0f32.to_bits()]);
        let crafted = envelope::encode(&header, &serde_json::to_vec(&json).unwrap());
        match registry.load(&crafted) {
            Err(PluginError::Corrupt(m)) => {
                assert!(m.contains("3 levels for 2 one-hot slots"), "{kind}: {m}")
            }
            Err(e) => panic!("{kind}: {e}"),
            Ok(_) => panic!("{kind}: loaded"),
        }
    }
}
