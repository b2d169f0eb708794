//! Helpers every command shares: the config file, progress, pacing.

use std::path::PathBuf;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use refit::config::Config;

/// The config file a command uses: the given one, else ./config.toml when
/// it exists.
pub(crate) fn config_path(path: Option<&std::path::Path>) -> Option<PathBuf> {
    match path {
        Some(p) => Some(p.to_owned()),
        None => Some(PathBuf::from("config.toml")).filter(|p| p.exists()),
    }
}

/// The config of [`config_path`], or the built-in defaults without one.
pub(crate) fn load_config(path: Option<&std::path::Path>) -> Result<Config> {
    match config_path(path) {
        Some(p) => Ok(Config::from_path(&p)?),
        None => Ok(Config::default()),
    }
}

/// A progress bar on stderr counting `len` `unit`.
pub(crate) fn progress_bar(len: usize, unit: &str) -> ProgressBar {
    let bar =
        ProgressBar::with_draw_target(Some(len as u64), indicatif::ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template(&format!(
            "{{bar:40}} {{pos}}/{{len}} {unit} {{per_sec}} {{eta}}"
        ))
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// Holds a stream to `rate` items per second (0: no limit): item `done` is
/// due `done / rate` seconds after `started`.
pub(crate) fn pace(started: std::time::Instant, done: usize, rate: f64) {
    if rate > 0.0 {
        let due = std::time::Duration::from_secs_f64(done as f64 / rate);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}
