//! Every message the actors exchange. The public data a host sees (events,
//! stats, acknowledgements) is in [`crate::events`].
//!
//! ```text
//!  host ──IngestSamples──▶ Ingest ──ObserveBatch──▶ Drift ──TrainBatch──▶ Trainer
//!                            ▲                        ▲──ObserveLosses────┤
//!                            └──────────────────TrainedCount──────────────┤
//!  host ◀── predict (atomic load) ── ServingActor ◀──Promote─────────────────┤
//!                                                Checkpointer ◀──Checkpoint──┘
//! ```
//! `Barrier` travels Drift → Trainer → Checkpointer → ServingActor, so that
//! `sync` returns only when everything sent before it is served (and, for
//! a barrier that asks for it, the newest model is on disk).

use std::sync::Arc;

use actix::prelude::*;
use refit_plugin::Predictor;

use crate::drift::Severity;

use crate::drift::reference::{DriftReference, ReferenceSource};
use crate::error::AgentError;
use crate::events::{
    AbStats, CheckpointStats, DriftReport, Event, IngestAck, IngestStats, OfflineReport,
    TrainerStats, Trigger,
};
use crate::metrics::Scores;

use crate::rows::Rows;
use crate::serving::{Served, Variant};
use crate::store::{VersionEntry, VersionId, VersionMeta};

/// Host → Ingest: labelled rows (dense row-major, or sparse for a sparse
/// model).
#[derive(Message, Debug)]
#[rtype(result = "Result<IngestAck, AgentError>")]
pub struct IngestSamples {
    /// The features.
    pub rows: Rows,
    /// One label per row.
    pub labels: Vec<f32>,
    /// Fleet mode: the caller's key of this call; a retry with the same
    /// key within JetStream's duplicate window is stored once.
    pub idempotency_key: Option<String>,
}

/// Agent start-up → Ingest: logged samples the recovered model has not
/// learned; buffered as if just ingested, without logging them again.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Replay {
    /// The features.
    pub rows: Rows,
    /// One label per row.
    pub labels: Vec<f32>,
    /// One past the sample-log number of the last sample.
    pub log_end: u64,
}

/// Fleet coordinator → Ingest (of a replica that stops training): drop
/// the samples buffered for training (the stream keeps them for whoever
/// trains next); answers how many were dropped.
#[derive(Message, Debug)]
#[rtype(result = "usize")]
pub struct DropBuffer;

/// Fleet coordinator → Trainer: continue from a version the fleet made
/// active (the trainer's newest checkpoint, a rollback, or the version a
/// new trainer resumes), and serve it. With `position`, stream sequences
/// below it count as learned (a new trainer resumes there); answers the
/// position the Trainer continues from.
#[derive(Message)]
#[rtype(result = "Option<u64>")]
pub struct Adopt {
    /// The model and its manifest entry (already imported into this
    /// replica's store); none: keep the model, only set the position.
    pub version: Option<(Box<dyn refit_plugin::Model>, VersionEntry)>,
    /// Where the stream is learned through, when the fleet says.
    pub position: Option<u64>,
}

/// Fleet coordinator → Trainer: whether this replica trains (holds the
/// lease); only the trainer runs scheduled and requested retrains.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct SetFleetRole {
    /// The trainer's replica name (none: nobody known).
    pub trainer: Option<String>,
    /// Whether it is this replica.
    pub training: bool,
}

/// Fleet coordinator → Checkpointer: store a version written by another
/// replica under its own number; with `activate` (the fleet made it
/// active), as the active version.
#[derive(Message)]
#[rtype(result = "Result<VersionEntry, AgentError>")]
pub struct Import {
    /// Its manifest entry.
    pub entry: VersionEntry,
    /// Its file.
    pub bytes: Vec<u8>,
    /// Make it the active version.
    pub activate: bool,
}

/// How a sample-log operation failed: the operation (`"append"` or
/// `"fsync"`) and the error, shared by every call it answers.
pub type LogFailure = (&'static str, std::sync::Arc<std::io::Error>);

/// The sample log's thread → Ingest: the log handed back, and the answers
/// of the calls handed over with it, in call order: each range of
/// sequence numbers committed as its durability asks (`Ok`), or failed.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LogCommitted {
    /// The log.
    pub log: crate::sample_log::SampleLog,
    /// The calls' sequence numbers and their outcome.
    pub answers: Vec<(std::ops::Range<u64>, Result<(), LogFailure>)>,
}

/// Host → Ingest: hand every buffered sample to training now.
#[derive(Message, Debug)]
#[rtype(result = "usize")]
pub struct FlushBuffer;

/// Ingest → Drift: a batch of accepted samples.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ObserveBatch {
    /// The features.
    pub rows: Rows,
    /// Labels.
    pub labels: Vec<f32>,
    /// Index (0-based, in acceptance order) of the batch's first sample.
    pub first_sample: u64,
    /// One past the sample-log number of the batch's last sample.
    pub log_end: u64,
    /// Why the batch was emitted.
    pub trigger: Trigger,
    /// When it left Ingest (for the ingest-to-served lag).
    pub emitted: std::time::Instant,
}

/// Trainer → Drift: the progressive losses of samples `first_sample ..`
/// (each scored before the model learned from it), for the concept-drift
/// detectors.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ObserveLosses {
    /// Index of the first sample.
    pub first_sample: u64,
    /// One loss per sample.
    pub losses: Vec<f32>,
    /// A binary classifier's (score, label) per sample, for the ranking
    /// detector (empty for other models).
    pub scored: Vec<(f32, f32)>,
}

/// Agent start-up → Trainer: where to send the loss stream and new drift
/// references (the Drift actor is created after the Trainer, which it
/// feeds).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnectDrift {
    /// The concept-drift detectors' input.
    pub losses: Recipient<ObserveLosses>,
    /// Re-basing the reference on an offline version's training rows.
    pub reference: Recipient<SetReference>,
}

/// Fleet coordinator → Drift (of a replica that does not train): the
/// trainer's latest drift report, answered as this replica's own until
/// it trains itself.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ForwardedReport(pub DriftReport);

/// Host → Drift: the latest drift report (none before the first batch).
#[derive(Message, Debug)]
#[rtype(result = "Option<DriftReport>")]
pub struct GetDriftReport;

/// Host or Trainer → Drift: replace the reference with these rows
/// (row-major); answers the reference as stored with versions.
#[derive(Message, Debug)]
#[rtype(result = "Result<Arc<DriftReference>, AgentError>")]
pub struct SetReference {
    /// Row-major reference rows.
    pub rows: Vec<f32>,
    /// Where they come from.
    pub source: ReferenceSource,
}

/// Host → Drift: monitor against the drift reference stored with a version
/// (at start-up and on rollback).
#[derive(Message, Debug)]
#[rtype(result = "Result<(), AgentError>")]
pub struct UseStoredReference(pub DriftReference);

/// Host or Trainer → Trainer: train a fresh model on a full data set, save
/// it as the next offline version, re-base the drift reference on its
/// training rows, and continue online learning from it.
#[derive(Message)]
#[rtype(result = "Result<OfflineReport, AgentError>")]
pub struct TrainOffline {
    /// The rows (dense or sparse, as the model takes them).
    pub rows: Rows,
    /// Labels.
    pub labels: Vec<f32>,
    /// Why (`"manual"`, `"schedule"`, `"degradation"`).
    pub reason: String,
}

/// Drift → Trainer: a batch to learn from, with the drift it carries.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct TrainBatch {
    /// The features.
    pub rows: Rows,
    /// Labels.
    pub labels: Vec<f32>,
    /// Index of the first sample.
    pub first_sample: u64,
    /// One past the sample-log number of the batch's last sample.
    pub log_end: u64,
    /// Why the batch was emitted.
    pub trigger: Trigger,
    /// When it left Ingest (for the ingest-to-served lag).
    pub emitted: std::time::Instant,
    /// Drift measured with this batch in the window.
    pub drift: DriftReport,
    /// The drift reference in force (stored with the checkpoint).
    pub reference: Option<Arc<DriftReference>>,
}

/// Trainer → Ingest: this many samples left the pending count (trained on
/// and served, or skipped).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct TrainedCount(pub usize);

/// Trainer → Checkpointer: write a served model state as online checkpoint
/// `version` (answered once written or failed).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Checkpoint {
    /// The number the update was served under.
    pub version: VersionId,
    /// The saved model (self-describing bytes).
    pub bytes: Vec<u8>,
    /// Samples trained on so far.
    pub samples_seen: u64,
    /// Learning rate of the update.
    pub learning_rate: Option<f32>,
    /// Drift severity of the update.
    pub severity: Severity,
    /// Progressive metrics at the time.
    pub metrics: Option<Scores>,
    /// The drift reference the model was monitored against.
    pub drift_reference: Option<Arc<DriftReference>>,
    /// Logged samples numbered below this one are learned.
    pub learned_through: Option<u64>,
}

/// Trainer → Checkpointer: store an offline version (which becomes active).
#[derive(Message)]
#[rtype(result = "Result<VersionEntry, AgentError>")]
pub struct SaveOffline {
    /// The saved model.
    pub bytes: Vec<u8>,
    /// What the manifest records.
    pub meta: VersionMeta,
    /// The drift reference (its training data).
    pub reference: Option<Arc<DriftReference>>,
}

/// Trainer → Checkpointer: make a kept version active (its file checked
/// against the manifest); answers its entry.
#[derive(Message, Debug)]
#[rtype(result = "Result<VersionEntry, AgentError>")]
pub struct Activate {
    /// The version.
    pub version: VersionId,
    /// How far in the sample log the model it replaces had learned: a
    /// restart does not replay those samples into it.
    pub discarded_through: Option<u64>,
}

/// Host → Trainer: make a stored version active (in the store, through the
/// Checkpointer), continue online learning from `model` and serve it. The
/// Trainer does all three between two updates, so no update in flight can
/// undo it: what is served afterwards is `version` or a descendant.
#[derive(Message)]
#[rtype(result = "Result<VersionEntry, AgentError>")]
pub struct ResumeFrom {
    /// The model.
    pub model: Box<dyn refit_plugin::Model>,
    /// Its version.
    pub version: VersionId,
}

/// Host → ServingActor: change a role in the serving set.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub enum SetServingRole {
    /// Set (or clear) the A/B challenger and its traffic share.
    Challenger(Option<(Served, f64)>),
    /// Set (or clear) the shadow.
    Shadow(Option<Served>),
    /// The ensemble's offline member (the newest offline version); its
    /// weight comes from `serving.ensemble_offline_weight`.
    OfflineMember(Served),
    /// The challenger was promoted to champion (the champion itself comes
    /// with the Trainer's `Promote`): clear the challenger role and carry
    /// its outcomes over.
    ChampionFromChallenger,
}

/// Host → ServingActor: a keyed prediction and what each model scored, kept
/// until its outcome is reported.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct RecordKeyed {
    /// The request's id (returned to the host).
    pub request_id: u64,
    /// (variant, version, predictions) of the answering model and the
    /// shadow.
    pub scored: Vec<(Variant, VersionId, Vec<f32>)>,
    /// The rows predicted, kept for delayed labels (`[feedback] enabled`).
    pub rows: Option<Rows>,
    /// A ranking's documents, in the order of the predictions (their
    /// clicks report the outcomes, [`ClickOutcomes`]).
    pub docs: Option<Vec<String>>,
    /// When it was predicted (ms, by the agent's clock).
    pub at_ms: u64,
}

/// Host → ServingActor: the clicks on a keyed ranking's documents (each
/// shown document with 1 for a click, 0 for none); answers the outcomes
/// counted. Documents not reported are not counted.
#[derive(Message, Debug)]
#[rtype(result = "Result<usize, AgentError>")]
pub struct ClickOutcomes {
    /// The id `rank_keyed` returned.
    pub request_id: u64,
    /// (document, clicked) pairs.
    pub outcomes: Vec<(String, f32)>,
}

/// Host → Trainer: start an offline training now, from the sample log
/// (`rows: None`) or from these rows; answers the samples it trains on,
/// and reports progress and result as events.
#[derive(Message, Debug)]
#[rtype(result = "Result<usize, AgentError>")]
pub struct StartTraining {
    /// Rows and labels, or none for the sample log.
    pub rows: Option<(Rows, Vec<f32>)>,
    /// `"requested"` or `"upload"`.
    pub reason: String,
}

/// Host → ServingActor: the outcomes of a prediction; answers the rows
/// counted and, when they were kept (`[feedback]`), the rows themselves,
/// for the host to ingest.
#[derive(Message, Debug)]
#[rtype(result = "Result<(usize, Option<Rows>), AgentError>")]
pub struct Feedback {
    /// The id `predict_keyed` returned.
    pub request_id: u64,
    /// One outcome per predicted row.
    pub labels: Vec<f32>,
}

/// Host → ServingActor: A/B counters and metrics.
#[derive(Message, Debug)]
#[rtype(result = "AbStats")]
pub struct GetAbStats;

/// Trainer → ServingActor: serve this snapshot as version `version`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Promote {
    /// The snapshot.
    pub snapshot: Arc<dyn Predictor>,
    /// Its version.
    pub version: VersionId,
}

/// Passed along Ingest → Drift → Trainer → Checkpointer → ServingActor
/// (or Trainer → ServingActor when it waits for serving only); the
/// ServingActor answers on the channel once everything sent before it has
/// been handled. With `persist`, the Trainer first hands the newest model
/// to the Checkpointer if it is not on disk yet (`flush`, shutdown).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Barrier {
    /// Answered once everything before the barrier is handled.
    pub reply: crossbeam_channel::Sender<()>,
    /// Write the newest model first.
    pub persist: bool,
    /// Wait for the checkpoints handed to the Checkpointer too; without
    /// it (and `persist`), the Trainer sends the barrier straight to the
    /// ServingActor: it waits for the updates to be served only.
    pub written: bool,
}

/// Host → ServingActor: add an event subscriber: the sending end of its
/// bounded channel, and a receiving end the actor drops the oldest event
/// through when the subscriber does not keep up.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Subscribe {
    /// Where events go.
    pub tx: crossbeam_channel::Sender<Event>,
    /// The same channel, to make room.
    pub rx: crossbeam_channel::Receiver<Event>,
}

/// Host → ServingActor: its counters.
#[derive(Message, Debug)]
#[rtype(result = "crate::events::ServingStats")]
pub struct GetServingStats;

/// Any actor → ServingActor: publish an event to the subscribers.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Publish(pub Event);

/// Host → Ingest: the ingest counters.
#[derive(Message, Debug)]
#[rtype(result = "IngestStats")]
pub struct GetIngestStats;

/// Host → Trainer: the training counters and metrics.
#[derive(Message, Debug)]
#[rtype(result = "TrainerStats")]
pub struct GetTrainerStats;

/// Host → Checkpointer: checkpoint counters.
#[derive(Message, Debug)]
#[rtype(result = "CheckpointStats")]
pub struct GetCheckpointStats;

/// Watcher → actors: a new, validated configuration is in force.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ConfigChanged(pub Arc<crate::config::Config>);

/// notify's thread → Watcher: the watched file may have changed.
#[cfg(feature = "watch")]
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct FileChanged;
