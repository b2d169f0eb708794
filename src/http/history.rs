//! The dashboard's memory: time series of the agent's activity, built from
//! its event stream and periodic stats and served as `GET /v1/history`.
//!
//! The [`History`] actor owns the series; a recorder thread subscribes to
//! the agent, collects events for one period at a time, adds a stats
//! snapshot and sends both to the actor. Every series is bounded: when one
//! is full, every other point is dropped and only every second new point is
//! kept from then on, so a series always spans the whole run at a coarser
//! resolution and memory never grows with the run's length. Points that
//! carry a change (a new learning rate or severity, a drift report over a
//! threshold) are kept regardless.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix::{Actor, Addr, Context, Handler, Message, MessageResult};
use serde::Serialize;

use crate::events::{DriftReport, Event};
use crate::metrics::Scores;
use crate::{Agent, Severity, Stats};

/// Points kept per series (see the module docs).
pub const CAPACITY: usize = 1024;
/// Notable events kept (the newest).
pub const EVENTS_KEPT: usize = 50;

/// A bounded series that thins itself when full.
#[derive(Debug, Clone)]
struct Series<T> {
    /// Points, each with whether it was forced in.
    items: Vec<(T, bool)>,
    stride: u64,
    offered: u64,
}

impl<T: Clone> Series<T> {
    fn new() -> Self {
        Series {
            items: Vec::new(),
            stride: 1,
            offered: 0,
        }
    }

    /// Offers a point; `keep` forces it in whatever the stride, and keeps
    /// it through thinning unless forced points alone fill the series.
    fn push(&mut self, item: T, keep: bool) {
        self.offered += 1;
        if !keep && !self.offered.is_multiple_of(self.stride) {
            return;
        }
        if self.items.len() >= CAPACITY {
            let before = self.items.len();
            let mut k = 0;
            self.items.retain(|(_, forced)| {
                k += usize::from(!forced);
                *forced || k % 2 == 1
            });
            if self.items.len() == before {
                let mut i = 0;
                self.items.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
            }
            self.stride *= 2;
        }
        self.items.push((item, keep));
    }

    fn last(&self) -> Option<&T> {
        self.items.last().map(|(t, _)| t)
    }

    fn to_vec(&self) -> Vec<T> {
        self.items.iter().map(|(t, _)| t.clone()).collect()
    }
}

/// A periodic snapshot of the agent's counters.
#[derive(Debug, Clone, Serialize)]
pub struct Tick {
    /// Wall time, milliseconds since the Unix epoch.
    pub t: u64,
    /// Samples accepted so far.
    pub accepted: u64,
    /// Samples trained on so far.
    pub trained: u64,
    /// Updates applied so far.
    pub updates: u64,
    /// Progressive metrics of the online model over the recent window.
    pub online: Option<Scores>,
    /// Holdout metrics of the active offline version.
    pub offline: Option<Scores>,
    /// Online checkpoints on disk.
    pub checkpoints: usize,
    /// Bytes on disk under the version directories.
    pub disk_bytes: u64,
    /// The serving version.
    pub serving: String,
}

/// One applied or skipped update.
#[derive(Debug, Clone, Serialize)]
pub struct UpdatePoint {
    /// Wall time, ms since the Unix epoch.
    pub t: u64,
    /// Samples seen up to the end of the update's batch.
    pub sample: u64,
    /// Samples in the batch.
    pub samples: usize,
    /// Whether the update was applied.
    pub applied: bool,
    /// The learning rate (used, or that would have been used).
    pub learning_rate: f32,
    /// Drift severity at the time.
    pub severity: Severity,
    /// Mean progressive loss of the batch (applied updates).
    pub loss: Option<f64>,
}

/// One drift report.
#[derive(Debug, Clone, Serialize)]
pub struct DriftPoint {
    /// Wall time, ms since the Unix epoch.
    pub t: u64,
    /// One past the last sample of the report's window.
    pub sample: u64,
    /// PSI per feature, in the order of `History::features`.
    pub psi: Vec<f64>,
    /// Resulting severity.
    pub severity: Severity,
}

/// A notable event, for the dashboard's log.
#[derive(Debug, Clone, Serialize)]
pub struct Note {
    /// Wall time, ms since the Unix epoch.
    pub t: u64,
    /// The event's name (`promoted`, `config_reloaded`, ...).
    pub kind: String,
    /// What happened, in words.
    pub text: String,
}

/// What `GET /v1/history` answers.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryView {
    /// When recording started, ms since the Unix epoch.
    pub started: u64,
    /// Feature names, the order of [`DriftPoint::psi`].
    pub features: Vec<String>,
    /// PSI thresholds of the latest drift report.
    pub thresholds: Option<crate::events::PsiThresholds>,
    /// Periodic counters.
    pub ticks: Vec<Tick>,
    /// Updates.
    pub updates: Vec<UpdatePoint>,
    /// Drift reports.
    pub drift: Vec<DriftPoint>,
    /// The newest notable events, oldest first.
    pub events: Vec<Note>,
}

/// The actor that keeps the series.
pub struct History {
    started: u64,
    features: Vec<String>,
    thresholds: Option<crate::events::PsiThresholds>,
    ticks: Series<Tick>,
    updates: Series<UpdatePoint>,
    drift: Series<DriftPoint>,
    events: std::collections::VecDeque<Note>,
    /// The learning rate of the last applied update.
    last_lr: Option<f32>,
    /// The last version promoted to serving.
    last_promoted: Option<crate::store::VersionId>,
}

/// Recorder → History: what happened during one period.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Record {
    /// When the period ended, ms since the Unix epoch.
    pub at: u64,
    /// The events of the period, in order.
    pub events: Vec<Event>,
    /// The agent's stats at the end of the period.
    pub stats: Option<Box<Stats>>,
}

/// Handler → History: the series.
#[derive(Message, Debug)]
#[rtype(result = "HistoryView")]
pub struct GetHistory;

fn severity_name(s: Severity) -> &'static str {
    match s {
        Severity::Stable => "no",
        Severity::Moderate => "moderate",
        Severity::Severe => "severe",
    }
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl History {
    /// An empty history of a model with these features.
    pub fn new(features: Vec<String>) -> Self {
        History {
            started: now_ms(),
            features,
            thresholds: None,
            ticks: Series::new(),
            updates: Series::new(),
            drift: Series::new(),
            events: std::collections::VecDeque::new(),
            last_lr: None,
            last_promoted: None,
        }
    }

    fn note(&mut self, t: u64, kind: &str, text: String) {
        if self.events.len() >= EVENTS_KEPT {
            self.events.pop_front();
        }
        self.events.push_back(Note {
            t,
            kind: kind.to_owned(),
            text,
        });
    }

    fn update(&mut self, point: UpdatePoint, max_psi: f64) {
        if point.applied {
            if let Some(old) = self.last_lr
                && old != point.learning_rate
            {
                self.note(
                    point.t,
                    "learning_rate",
                    format!(
                        "learning rate {old} -> {} at sample {} ({} drift, max PSI {max_psi:.3})",
                        point.learning_rate,
                        point.sample - point.samples as u64,
                        severity_name(point.severity),
                    ),
                );
            }
            self.last_lr = Some(point.learning_rate);
        }
        let changed = self.updates.last().is_none_or(|p| {
            p.learning_rate != point.learning_rate
                || p.severity != point.severity
                || p.applied != point.applied
        });
        self.updates.push(point, changed);
    }

    fn drift_report(&mut self, t: u64, report: &DriftReport) {
        if report.psi.is_empty() {
            return;
        }
        self.thresholds = Some(report.thresholds);
        let psi = self
            .features
            .iter()
            .map(|f| {
                report
                    .psi
                    .iter()
                    .find(|(name, _)| name == f)
                    .map_or(0.0, |p| p.1)
            })
            .collect();
        let changed = self
            .drift
            .last()
            .is_none_or(|p| p.severity != report.severity);
        self.drift.push(
            DriftPoint {
                t,
                sample: report.window_end,
                psi,
                severity: report.severity,
            },
            changed,
        );
    }

    /// Adds one event.
    pub fn event(&mut self, t: u64, event: &Event) {
        match event {
            Event::UpdateApplied {
                samples,
                learning_rate,
                severity,
                loss_before,
                first_sample,
                max_psi,
                ..
            } => self.update(
                UpdatePoint {
                    t,
                    sample: first_sample + *samples as u64,
                    samples: *samples,
                    applied: true,
                    // A model that sets its own rates (FTRL) records none.
                    learning_rate: learning_rate.unwrap_or(0.0),
                    severity: *severity,
                    loss: Some(*loss_before),
                },
                *max_psi,
            ),
            Event::UpdateSkipped {
                reason,
                samples,
                learning_rate,
                severity,
                max_psi,
            } => {
                let sample = self.updates.last().map_or(0, |p| p.sample) + *samples as u64;
                self.update(
                    UpdatePoint {
                        t,
                        sample,
                        samples: *samples,
                        applied: false,
                        learning_rate: *learning_rate,
                        severity: *severity,
                        loss: None,
                    },
                    *max_psi,
                );
                self.note(
                    t,
                    "update_skipped",
                    format!("update of {samples} samples skipped: {reason}"),
                );
            }
            Event::DriftReport(report) => self.drift_report(t, report),
            Event::Checkpointed { .. } => {}
            Event::CheckpointFailed { error } => self.note(
                t,
                "checkpoint_failed",
                format!("checkpoint failed: {error}"),
            ),
            Event::Promoted { version } => {
                // The next online checkpoint is routine; anything else
                // (a rollback, a promotion, an offline version) is news.
                let routine = self.last_promoted.is_some_and(|last| {
                    last.mode == version.mode && last.number + 1 == version.number
                }) && version.mode == crate::store::Mode::Online;
                if !routine {
                    self.note(t, "promoted", format!("now serving {version}"));
                }
                self.last_promoted = Some(*version);
            }
            Event::ChallengerDemoted { version, .. } => self.note(
                t,
                "challenger_demoted",
                format!(
                    "challenger {} demoted by the guardrail",
                    version.map_or_else(|| "-".to_owned(), |v| v.to_string())
                ),
            ),
            Event::OfflineTrained(report) => self.note(
                t,
                "offline_trained",
                format!("offline version {} trained", report.version),
            ),
            Event::RetrainTriggered { reason, samples } => self.note(
                t,
                "retrain_triggered",
                match reason.as_str() {
                    "requested" => {
                        format!("offline training from the sample log on {samples} samples")
                    }
                    "upload" => format!("offline training on {samples} uploaded samples"),
                    _ => format!("full retrain ({reason}) on {samples} samples"),
                },
            ),
            Event::RetrainFailed { reason, error } => self.note(
                t,
                "retrain_failed",
                format!("full retrain ({reason}) failed: {error}"),
            ),
            Event::ConfigReloaded { path, .. } => {
                self.note(t, "config_reloaded", format!("{path} reloaded"))
            }
            Event::OfflineProgress {
                reason,
                epoch,
                epochs,
            } => self.note(
                t,
                "offline_progress",
                format!("offline training ({reason}): epoch {epoch} of {epochs}"),
            ),
            Event::ConfigRejected { path, error } => {
                self.note(t, "config_rejected", format!("{path} refused: {error}"))
            }
        }
    }

    /// Adds one stats snapshot.
    pub fn tick(&mut self, t: u64, stats: &Stats) {
        self.ticks.push(
            Tick {
                t,
                accepted: stats.ingest.accepted,
                trained: stats.trainer.trained,
                updates: stats.trainer.updates,
                online: stats.trainer.metrics,
                offline: stats.trainer.offline_metrics,
                checkpoints: stats.registry.kept,
                disk_bytes: stats.registry.disk_bytes,
                serving: stats.serving_version.to_string(),
            },
            false,
        );
    }

    /// The series as they stand.
    pub fn view(&self) -> HistoryView {
        HistoryView {
            started: self.started,
            features: self.features.clone(),
            thresholds: self.thresholds,
            ticks: self.ticks.to_vec(),
            updates: self.updates.to_vec(),
            drift: self.drift.to_vec(),
            events: self.events.iter().cloned().collect(),
        }
    }
}

impl Actor for History {
    type Context = Context<Self>;
}

impl Handler<Record> for History {
    type Result = ();
    fn handle(&mut self, msg: Record, _: &mut Context<Self>) {
        for event in &msg.events {
            self.event(msg.at, event);
        }
        if let Some(stats) = &msg.stats {
            self.tick(msg.at, stats);
        }
    }
}

impl Handler<GetHistory> for History {
    type Result = MessageResult<GetHistory>;
    fn handle(&mut self, _: GetHistory, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.view())
    }
}

/// Starts the recorder thread feeding `history` from `agent` every
/// `period`. It ends when the agent stops or the actor is gone.
pub fn record(
    agent: Agent,
    history: Addr<History>,
    period: Duration,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    record_with(
        crate::http::HttpState::new(agent, None),
        history,
        period,
        None,
    )
}

/// History → the features of the model, once a server that waited for
/// its first samples has one.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(crate) struct SetFeatures(pub Vec<String>);

impl Handler<SetFeatures> for History {
    type Result = ();
    fn handle(&mut self, msg: SetFeatures, _: &mut Context<Self>) {
        self.features = msg.0;
    }
}

/// [`record`] for the agent a server serves (waiting for it when the
/// first samples start it), also observing the durations the events
/// report into the API's metrics.
pub(crate) fn record_with(
    state: crate::http::HttpState,
    history: Addr<History>,
    period: Duration,
    metrics: Option<crate::http::metrics::HttpMetrics>,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    let subscribe = |agent: &Agent| {
        agent
            .subscribe()
            .map_err(|e| std::io::Error::other(e.to_string()))
    };
    let mut ready = match state.agent() {
        Some(agent) => Some((agent.clone(), subscribe(agent)?)),
        None => None,
    };
    std::thread::Builder::new()
        .name("refit-history".into())
        .spawn(move || {
            let (agent, events) = loop {
                if let Some(ready) = ready.take() {
                    break ready;
                }
                std::thread::sleep(period);
                if !history.connected() {
                    return;
                }
                if let Some(agent) = state.agent() {
                    let Ok(events) = subscribe(agent) else { return };
                    history.do_send(SetFeatures(agent.spec().features.clone()));
                    ready = Some((agent.clone(), events));
                }
            };
            loop {
                let deadline = Instant::now() + period;
                let mut batch = Vec::new();
                loop {
                    match events.recv_deadline(deadline) {
                        Ok(e) => {
                            if let Some(m) = &metrics {
                                m.observe(&e);
                            }
                            batch.push(e)
                        }
                        Err(crossbeam_channel::RecvTimeoutError::Timeout) => break,
                        Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
                    }
                }
                let stats = match agent.stats() {
                    Ok(s) => Some(Box::new(s)),
                    Err(crate::AgentError::Stopped) => return,
                    Err(_) => None,
                };
                let record = Record {
                    at: now_ms(),
                    events: batch,
                    stats,
                };
                if history.try_send(record).is_err() {
                    return;
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_series_thins_itself_and_keeps_forced_points() {
        let mut s = Series::new();
        for i in 0..(CAPACITY as u64 * 4) {
            s.push(i, i == 1235);
        }
        let v = s.to_vec();
        assert!(v.len() <= CAPACITY);
        assert!(v.len() >= CAPACITY / 2);
        assert_eq!(v.first(), Some(&0));
        assert!(v.contains(&1235));
        // Whole run covered: the newest kept point is near the end.
        assert!(*s.last().unwrap() >= CAPACITY as u64 * 4 - 8);
        // Strictly increasing: thinning keeps the order.
        assert!(v.windows(2).all(|w| w[0] < w[1]));
    }

    fn update(lr: f32, first: u64) -> Event {
        Event::UpdateApplied {
            reason: crate::events::Trigger::Threshold,
            samples: 100,
            learning_rate: Some(lr),
            severity: Severity::Stable,
            max_psi: 0.0,
            loss_before: 0.5,
            first_sample: first,
            clipped_steps: 0,
            train_seconds: 0.0,
            lag_seconds: 0.0,
            version: crate::store::VersionId::online(first + 1),
        }
    }

    #[test]
    fn learning_rate_changes_survive_thinning() {
        let mut h = History::new(vec!["a".into()]);
        let n = CAPACITY as u64 * 8;
        for i in 0..n {
            let lr = if i == n / 2 { 0.05 } else { 0.001 };
            h.event(0, &update(lr, i * 100));
        }
        let v = h.view();
        assert!(v.updates.len() <= CAPACITY + 2);
        let jump = v.updates.iter().position(|p| p.learning_rate == 0.05);
        let jump = jump.expect("the rate change is kept");
        assert_eq!(v.updates[jump].sample, (n / 2) * 100 + 100);
        // ... and so is the return to the stable rate right after it.
        assert_eq!(v.updates[jump + 1].learning_rate, 0.001);
        assert_eq!(v.updates[jump + 1].sample, (n / 2 + 1) * 100 + 100);
    }

    #[test]
    fn rate_changes_and_non_routine_promotions_are_noted() {
        let mut h = History::new(vec!["a".into()]);
        h.event(1, &update(0.001, 0));
        h.event(2, &update(0.05, 100));
        for n in [1, 2, 3, 1, 4] {
            h.event(
                3,
                &Event::Promoted {
                    version: crate::store::VersionId::online(n),
                },
            );
        }
        let texts: Vec<String> = h.view().events.into_iter().map(|e| e.text).collect();
        assert_eq!(
            texts,
            [
                "learning rate 0.001 -> 0.05 at sample 100 (no drift, max PSI 0.000)",
                "now serving online_001",
                "now serving online_001",
                "now serving online_004",
            ]
        );
    }

    #[test]
    fn notes_keep_the_newest() {
        let mut h = History::new(Vec::new());
        for i in 0..(EVENTS_KEPT as u64 + 10) {
            h.event(
                i,
                &Event::ConfigRejected {
                    path: "c.toml".into(),
                    error: format!("e{i}"),
                },
            );
        }
        let v = h.view();
        assert_eq!(v.events.len(), EVENTS_KEPT);
        assert_eq!(v.events[0].t, 10);
        assert!(
            v.events
                .last()
                .unwrap()
                .text
                .ends_with(&format!("e{}", EVENTS_KEPT + 9))
        );
    }
}
