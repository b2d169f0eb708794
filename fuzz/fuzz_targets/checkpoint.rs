//! The checkpoint loader: every built-in plugin's `load` behind the file
//! envelope, on the raw bytes and, so the fuzzer gets past the CRC, on the
//! bytes as the payload of a well-framed envelope of each kind; a loaded
//! model must predict without panicking. A third path reaches the
//! preprocessor and MLP loaders, which random JSON rarely does: it takes a
//! valid saved logistic or MLP model with a categorical feature and lets
//! the input set its categorical state (levels, one-hot slots, hash
//! buckets) and the MLP's hidden sizes and layer shapes.
#![no_main]
use libfuzzer_sys::fuzz_target;
use refit::plugins::{Batch, ModelSpec, Task, envelope};

fn try_load(bytes: &[u8]) {
    if let Ok(model) = refit::plugins::builtin().load(bytes) {
        let width = model.spec().width();
        if width > 0 && width < 4096 {
            let row = vec![0.5f32; width];
            if let Ok(x) = Batch::new(&row, width) {
                let _ = model.snapshot().predict(x.into());
            }
        }
    }
}

/// A valid payload of `kind` (logistic or mlp) over a categorical and a
/// numeric feature, its fields then set from `data`.
fn structured(kind: &str, data: &[u8]) {
    use refit::plugins::{Params, builtin};
    let mut c = refit::config::Config::default();
    c.model.kind = kind.into();
    c.model.preprocessing.onehot_max = 2;
    c.model.preprocessing.features.insert(
        "c".into(),
        refit_plugin_kit::preprocess::FeatureOverride {
            kind: Some(refit_plugin_kit::preprocess::FeatureType::Categorical),
            ..Default::default()
        },
    );
    let params: Params = match c.model.plugin_params() {
        Ok(p) => p,
        Err(_) => return,
    };
    let spec = ModelSpec::new(kind, Task::Classification, ["c", "x"]);
    let Ok(model) = builtin().create(spec, &params) else {
        return;
    };
    let Ok(saved) = model.save() else { return };
    let Ok((header, payload)) = envelope::decode(&saved) else {
        return;
    };
    let Ok(mut json) = serde_json::from_slice::<serde_json::Value>(payload) else {
        return;
    };
    let mut bytes = data.iter().copied();
    let mut next = move || u64::from(bytes.next().unwrap_or(0));
    let small = |v: u64| serde_json::Value::from(v % 40);
    // 0.0, 0.5, 1.0, ...: the probe row (all 0.5) hits the second level.
    let levels: Vec<u32> = (0..next() % 8).map(|i| (i as f32 * 0.5).to_bits()).collect();
    let state = &mut json["preprocessor"]["features"][0];
    state["levels"] = serde_json::json!(levels);
    state["onehot_max"] = small(next());
    state["hash_buckets"] = small(next());
    if next() % 4 == 0 {
        state["onehot_max"] = serde_json::Value::from(u64::MAX - next());
    }
    if kind == "mlp" {
        json["params"]["hidden"] = serde_json::json!([next() % 6, next() % 6]);
        if let Some(layers) = json["layers"].as_array_mut() {
            for layer in layers {
                layer["inputs"] = small(next());
                layer["outputs"] = small(next());
            }
        }
    }
    if let Ok(payload) = serde_json::to_vec(&json) {
        try_load(&envelope::encode(&header, &payload));
    }
}

fuzz_target!(|data: &[u8]| {
    try_load(data);
    structured("logistic", data);
    structured("mlp", data);
    let Some((&selector, payload)) = data.split_first() else {
        return;
    };
    let kinds = ["logistic", "linear", "mlp", "ftrl"];
    let kind = kinds[usize::from(selector) % kinds.len()];
    let task = if kind == "linear" {
        Task::Regression
    } else {
        Task::Classification
    };
    let width = usize::from(selector / 4 % 4);
    let features: Vec<String> = (0..width).map(|i| format!("f{i}")).collect();
    let spec = ModelSpec::new(kind, task, features);
    for version in 1..=2 {
        try_load(&envelope::encode(
            &envelope::Header::new(kind, version, &spec),
            payload,
        ));
    }
});
