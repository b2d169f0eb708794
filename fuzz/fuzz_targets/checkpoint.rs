//! The checkpoint loader: every built-in plugin's `load` behind the file
//! envelope, on the raw bytes and, so the fuzzer gets past the CRC, on the
//! bytes as the payload of a well-framed envelope of each kind; a loaded
//! model must predict without panicking.
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

fuzz_target!(|data: &[u8]| {
    try_load(data);
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
