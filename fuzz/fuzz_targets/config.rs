//! The config parser and validator, and the `[online]` line editor of
//! `PUT /v1/online`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(c) = refit::config::Config::from_toml_str(text) {
            let _ = c.validate("fuzz");
            let _ = c.model.plugin_params();
        }
        let _ = refit::http::set_online(text, Some(false), Some(10));
    }
});
