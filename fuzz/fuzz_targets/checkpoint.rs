//! The checkpoint loader: every built-in plugin's `load` behind the file
//! envelope; a loaded model must predict without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = refit::plugins::builtin().load(data) {
        let width = model.spec().width();
        if width > 0 && width < 4096 {
            let row = vec![0.5f32; width];
            if let Ok(x) = refit::plugins::Batch::new(&row, width) {
                let _ = model.snapshot().predict(&x);
            }
        }
    }
});
