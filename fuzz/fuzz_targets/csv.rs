//! The CSV sample parsers (`refit run --input`, `refit train`, `refit drift`).
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = refit::data::read_csv(data, "fuzz", "label");
    let _ = refit::data::read_features(data, "fuzz");
});
