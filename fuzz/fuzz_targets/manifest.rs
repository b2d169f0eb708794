//! The manifest and drift-reference loaders (JSON files next to versions).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = serde_json::from_slice::<refit::store::Manifest>(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = refit::drift::reference::DriftReference::from_json(text);
    }
});
