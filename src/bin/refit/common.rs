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

/// Fixes the model's schema from a CSV file where the config leaves it
/// open (features from the header, text columns categorical, classes
/// from the labels), then matches the file's columns to the features by
/// name and its labels to the classes.
pub(crate) fn fit_schema(
    config: &mut Config,
    data: refit::data::Dataset,
) -> Result<refit::data::Dataset, String> {
    let task = config.model.task();
    let classes = if data.classes.is_empty() {
        refit::schema::classes_of(task, &data.label_names()).unwrap_or_default()
    } else {
        data.classes.clone()
    };
    if task == refit::plugins::Task::Regression && !classes.is_empty() {
        return Err(format!(
            "the label column holds text ({:?}, ...), and a `{}` model is for regression",
            classes.first(),
            config.model.kind
        ));
    }
    config.model.adopt(&refit::schema::Inferred {
        features: data.features.clone(),
        categorical: data.categorical.clone(),
        classes,
    });
    // A column the config declares numeric must hold numbers.
    for (name, (line, cell)) in data.categorical.iter().zip(&data.first_text) {
        if config.model.features.contains(name) && !config.model.is_categorical(name) {
            return Err(format!(
                "line {line}, column `{name}`: `{cell}` is not a number, and [model.preprocessing.features.{name}] type = \"numeric\""
            ));
        }
    }
    // Columns are matched to the configured features by name.
    let mut data = data.select(&config.model.features)?;
    if !config.model.classes.is_empty() {
        data.use_classes(&config.model.classes)?;
    }
    Ok(data)
}

/// The learning-rate changes and concept-drift alarms of a run.
pub(crate) fn print_drift(
    out: &mut impl std::io::Write,
    lr_changes: &[refit::run::LrChange],
    alarms: &[refit::drift::concept::ConceptAlarm],
) -> std::io::Result<()> {
    if lr_changes.is_empty() {
        writeln!(out, "learning rate unchanged")?;
    } else {
        writeln!(out, "learning-rate changes:")?;
        writeln!(
            out,
            "{:>10}  {:>8} -> {:<8}  {:<9} {:>8}",
            "sample", "old", "new", "severity", "max PSI"
        )?;
        for c in lr_changes {
            writeln!(
                out,
                "{:>10}  {:>8} -> {:<8}  {:<9} {:>8.3}",
                c.sample,
                c.old,
                c.lr,
                format!("{:?}", c.severity).to_lowercase(),
                c.max_psi
            )?;
        }
    }
    for a in alarms {
        writeln!(
            out,
            "concept-drift alarm: {} ({}) at sample {}",
            a.detector,
            format!("{:?}", a.level).to_lowercase(),
            a.sample
        )?;
    }
    Ok(())
}
