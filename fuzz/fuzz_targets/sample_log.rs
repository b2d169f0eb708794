//! The sample-log reader: the input is a segment file's bytes, read as
//! dense rows of 8 features and as sparse rows over 2^16 coordinates.
#![no_main]
use libfuzzer_sys::fuzz_target;
use refit::plugins::InputKind;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    if std::fs::write(dir.path().join("seg_000001_0.log"), data).is_err() {
        return;
    }
    let _ = refit::sample_log::read_rows(dir.path(), InputKind::Dense, 8, 1 << 20);
    let _ = refit::sample_log::read_rows(dir.path(), InputKind::Sparse, 1 << 16, 1 << 20);
});
