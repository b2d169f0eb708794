//! The main job: stream labelled rows through an agent, predicting each
//! chunk with the served model before ingesting it (progressive
//! validation), and summarise what the agent did.
//!
//! The protocol: every row is predicted by the newest model that could have
//! been served without seeing it. Chunks follow the agent's update schedule
//! (`online.min_samples_per_update`, and the cold start's smaller updates
//! before it): a chunk ends exactly where the samples that start an update
//! are complete, and the run waits until that update is served before it
//! predicts the next chunk, as when rows arrive slower than training. So
//! the figures do not depend on thread timing, and no row is predicted by a
//! model older than it had to be. A cap on the chunk size (`--chunk`)
//! splits chunks without changing any prediction.

use std::ops::ControlFlow;

use serde::Serialize;

use crate::agent::{Agent, AgentError, Severity};
use crate::drift::concept::ConceptAlarm;
use crate::events::Event;
use crate::metrics::{Scores, auc, mae};
use crate::plugins::Task;

/// A learning-rate change seen in the update events.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LrChange {
    /// First sample of the update that used the new rate.
    pub sample: u64,
    /// The previous rate.
    pub old: f32,
    /// The new rate.
    pub lr: f32,
    /// Drift severity behind it.
    pub severity: Severity,
    /// Max PSI behind it.
    pub max_psi: f64,
}

/// The progressive metric: AUC (binary classification), accuracy
/// (multiclass) or MAE (regression).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric {
    /// `"auc"`, `"accuracy"` or `"mae"`.
    pub name: &'static str,
    /// Its value (NaN when undefined, e.g. one class only).
    pub value: f64,
}

/// The metric over a window of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WindowValue {
    /// First row.
    pub start: usize,
    /// One past the last row.
    pub end: usize,
    /// Metric value.
    pub value: f64,
}

/// What a run did.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Samples streamed.
    pub samples: usize,
    /// Updates applied.
    pub updates: usize,
    /// Updates skipped or refused.
    pub skipped: usize,
    /// Checkpoints written.
    pub checkpoints: usize,
    /// Drift reports with at least one feature over the moderate threshold.
    pub drift_alerts: usize,
    /// Learning-rate changes.
    pub lr_changes: Vec<LrChange>,
    /// Progressive metric over every row.
    pub metric: Metric,
    /// Every progressive metric of the task over every row (for a
    /// multiclass model: accuracy, macro-F1 and log loss).
    pub scores: Scores,
    /// Progressive metric per window.
    pub windows: Vec<WindowValue>,
    /// Concept-drift alarms on the loss stream, as the drift reports showed
    /// them (each once).
    pub concept_alarms: Vec<ConceptAlarm>,
    /// Rows per second through ingest, training and prediction.
    pub rows_per_s: f64,
    /// The progressive prediction of every row (not in the JSON summary).
    #[serde(skip)]
    pub predictions: Vec<f32>,
}

fn metric(task: Task, multiclass: bool, p: &[f32], y: &[f32]) -> Metric {
    if multiclass {
        return Metric {
            name: "accuracy",
            value: crate::metrics::accuracy(p, y),
        };
    }
    match task {
        Task::Classification => Metric {
            name: "auc",
            value: auc(p, y).unwrap_or(f64::NAN),
        },
        Task::Regression => Metric {
            name: "mae",
            value: mae(p, y),
        },
    }
}

/// What a run's events add up to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EventTally {
    /// Updates applied.
    pub updates: usize,
    /// Of them, started by the threshold trigger.
    pub by_threshold: usize,
    /// Updates skipped or refused.
    pub skipped: usize,
    /// Checkpoints written.
    pub checkpoints: usize,
    /// Drift reports with at least one feature over the moderate threshold.
    pub drift_alerts: usize,
    /// Learning-rate changes between updates.
    pub lr_changes: Vec<LrChange>,
    /// Concept-drift alarms, each once.
    pub concept_alarms: Vec<ConceptAlarm>,
}

impl EventTally {
    /// Adds up `events`, in order.
    pub fn of(events: impl IntoIterator<Item = Event>) -> Self {
        let mut t = Self::default();
        let mut last_lr = None;
        for event in events {
            match event {
                Event::UpdateApplied {
                    reason,
                    learning_rate,
                    severity,
                    max_psi,
                    first_sample,
                    ..
                } => {
                    t.updates += 1;
                    t.by_threshold += usize::from(reason == crate::events::Trigger::Threshold);
                    // Models that set their own rates record none.
                    if let (Some(old), Some(lr)) = (last_lr, learning_rate)
                        && old != lr
                    {
                        t.lr_changes.push(LrChange {
                            sample: first_sample,
                            old,
                            lr,
                            severity,
                            max_psi,
                        });
                    }
                    last_lr = learning_rate.or(last_lr);
                }
                Event::UpdateSkipped { .. } => t.skipped += 1,
                Event::Checkpointed { .. } => t.checkpoints += 1,
                Event::DriftReport(r) => {
                    t.drift_alerts += usize::from(!r.alerts.is_empty());
                    if let Some(alarm) = r.concept_alarm
                        && t.concept_alarms.last() != Some(&alarm)
                    {
                        t.concept_alarms.push(alarm);
                    }
                }
                _ => {}
            }
        }
        t
    }
}

/// Streams `rows`/`labels` through `agent` as the update schedule chunks
/// them (at most `max_chunk` rows per ingest call when given), flushes, and
/// summarises; `progress` gets the rows done so far, and ends the stream
/// early by answering `ControlFlow::Break` (the summary then covers the
/// rows streamed).
pub fn run(
    agent: &Agent,
    rows: &[f32],
    labels: &[f32],
    max_chunk: Option<usize>,
    window: usize,
    mut progress: impl FnMut(usize) -> ControlFlow<()>,
) -> Result<RunSummary, AgentError> {
    let width = agent.spec().width();
    let task = agent.spec().task;
    let multiclass = agent.spec().is_multiclass();
    let classes = agent.spec().classes.len();
    // A multiclass model's probability of each row's true class.
    let mut p_true = Vec::new();
    let events = agent.subscribe()?;
    let started = std::time::Instant::now();
    let mut predictions = Vec::with_capacity(labels.len());
    let cap = max_chunk.unwrap_or(usize::MAX).max(1);
    // Samples that complete the next update.
    let mut until_update = agent.stats()?.ingest.until_trigger as usize;
    let mut done = 0;
    while done < labels.len() {
        let n = until_update.clamp(1, cap).min(labels.len() - done);
        let (x, y) = (
            &rows[done * width..(done + n) * width],
            &labels[done..done + n],
        );
        let answer = agent.predict(x)?;
        if let Some(p) = &answer.probabilities {
            p_true.extend(
                p.chunks_exact(classes)
                    .zip(y)
                    .map(|(p, &label)| p.get(label as usize).copied().unwrap_or(0.0)),
            );
        }
        predictions.extend(answer.values);
        let ack = agent.ingest(x, y)?;
        if ack.buffered < y.len() {
            // This chunk started an update: let it be served before the
            // stream goes on, as when rows arrive slower than training.
            agent.wait_served()?;
        }
        until_update = ack.until_update;
        done += n;
        if progress(done).is_break() {
            break;
        }
    }
    agent.flush()?;
    let elapsed = started.elapsed().as_secs_f64();
    let labels = &labels[..done];

    let EventTally {
        updates,
        skipped,
        checkpoints,
        drift_alerts,
        lr_changes,
        concept_alarms,
        ..
    } = EventTally::of(events.try_iter());
    let window = window.max(1);
    let windows = (0..labels.len())
        .step_by(window)
        .map(|s| {
            let e = (s + window).min(labels.len());
            WindowValue {
                start: s,
                end: e,
                value: metric(task, multiclass, &predictions[s..e], &labels[s..e]).value,
            }
        })
        .collect();
    Ok(RunSummary {
        samples: labels.len(),
        updates,
        skipped,
        checkpoints,
        drift_alerts,
        lr_changes,
        metric: metric(task, multiclass, &predictions, labels),
        scores: if multiclass {
            Scores::multiclass(&predictions, labels, &p_true[..labels.len()], classes)
        } else {
            Scores::for_task(task, &predictions, labels)
        },
        windows,
        concept_alarms,
        rows_per_s: labels.len() as f64 / elapsed.max(1e-9),
        predictions,
    })
}
