//! Progressive validation over a stream: every mini-batch is predicted by the
//! current serving snapshot *before* the model learns from it, so each
//! prediction is an honest out-of-sample one.
//!
//! ```
//! use refit::{demo, plugins, progressive};
//! let stream = demo::churn(1, 4_000);
//! let mut model = plugins::create_for(&stream, "logistic").unwrap();
//! let report = progressive::run(model.as_mut(), &stream, &progressive::Settings {
//!     batch: 32, learning_rate: 0.05, window: 1_000,
//! }, |_| {}).unwrap();
//! assert_eq!(report.windows.len(), 4);
//! ```

use refit_plugin::{Batch, Model, PluginError};
use serde::Serialize;

use crate::demo::DemoStream;
use crate::metrics::Scores;

/// How to stream.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Rows per `partial_fit`.
    pub batch: usize,
    /// Constant learning rate.
    pub learning_rate: f32,
    /// Rows per reported window.
    pub window: usize,
}

/// Metrics of one window of rows.
#[derive(Debug, Clone, Serialize)]
pub struct Window {
    /// First row.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
    /// The model's progressive metrics.
    pub model: Scores,
    /// The generator's oracle on the same rows: the best achievable.
    pub oracle: Scores,
    /// Drift events that start inside this window.
    pub events: Vec<String>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Per-window metrics.
    pub windows: Vec<Window>,
    /// Metrics over every row.
    pub overall: Scores,
    /// The oracle over every row.
    pub oracle: Scores,
    /// Updates applied.
    pub updates: usize,
}

/// Streams `stream` through `model`; `progress` is called with the number of
/// rows done after each batch.
pub fn run(
    model: &mut dyn Model,
    stream: &DemoStream,
    settings: &Settings,
    mut progress: impl FnMut(usize),
) -> Result<Report, PluginError> {
    let (width, rows, task) = (stream.width(), stream.rows(), stream.task);
    let batch = settings.batch.max(1);
    let mut predictions = Vec::with_capacity(rows);
    let mut updates = 0;
    let mut start = 0;
    while start < rows {
        let end = (start + batch).min(rows);
        let x = Batch::new(&stream.x[start * width..end * width], width)?;
        predictions.extend(model.snapshot().predict(x.into())?);
        model.partial_fit(x.into(), &stream.y[start..end], settings.learning_rate)?;
        updates += 1;
        start = end;
        progress(end);
    }
    let window = settings.window.max(1);
    let windows = (0..rows)
        .step_by(window)
        .map(|s| {
            let e = (s + window).min(rows);
            Window {
                start: s,
                end: e,
                model: Scores::for_task(task, &predictions[s..e], &stream.y[s..e]),
                oracle: Scores::for_task(task, &stream.oracle[s..e], &stream.y[s..e]),
                events: stream
                    .events
                    .iter()
                    .filter(|ev| ev.start >= s && ev.start < e)
                    .map(|ev| format!("{} drift starts at row {}", ev.kind, ev.start))
                    .collect(),
            }
        })
        .collect();
    Ok(Report {
        windows,
        overall: Scores::for_task(task, &predictions, &stream.y),
        oracle: Scores::for_task(task, &stream.oracle, &stream.y),
        updates,
    })
}
