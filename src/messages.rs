//! Every message the actors exchange, and the events a host can subscribe to.
//!
//! ```text
//!  host ──IngestSamples──▶ Ingest ──ObserveBatch──▶ Drift ──TrainBatch──▶ Trainer
//!                            ▲                        ▲──ObserveLosses────┤
//!                            └──────────────────TrainedCount──────────────┤
//!  host ◀── predict (atomic load) ── ServingActor ◀──Promote── Checkpointer ◀──Checkpoint
//! ```
//! `Barrier` travels the same path (Drift → Trainer → Checkpointer → ServingActor) so
//! that `flush` returns only when everything sent before it is served.

use std::sync::Arc;

use actix::prelude::*;
use refit_plugin::Predictor;
use serde::Serialize;

use crate::actors::serving::AbStats;
pub use crate::drift::PsiThresholds;
use crate::drift::Severity;
use crate::drift::concept::{ConceptAlarm, ConceptLevel};
use crate::drift::ks::Ks;
use crate::drift::reference::{DriftReference, ReferenceSource};
use crate::error::AgentError;
use crate::metrics::Scores;
use crate::offline::Trained;
use crate::rows::Rows;
use crate::serving::{Served, Variant, VariantStats};
use crate::store::{Skipped, VersionEntry, VersionId, VersionMeta};

/// Host → Ingest: labelled rows (dense row-major, or sparse for a sparse
/// model).
#[derive(Message, Debug)]
#[rtype(result = "Result<IngestAck, AgentError>")]
pub struct IngestSamples {
    /// The features.
    pub rows: Rows,
    /// One label per row.
    pub labels: Vec<f32>,
}

/// Ingest's answer: how many samples it accepted and how many now wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct IngestAck {
    /// Rows accepted by this call.
    pub accepted: usize,
    /// Accepted samples not yet trained on (buffered or in flight).
    pub pending: usize,
    /// Samples in the buffer after this call (0 when the call triggered an
    /// update).
    pub buffered: usize,
    /// New samples still needed before the next update starts (the update
    /// schedule, cold start included).
    pub until_update: usize,
}

/// Host → Ingest: hand every buffered sample to training now.
#[derive(Message, Debug)]
#[rtype(result = "usize")]
pub struct FlushBuffer;

/// Why an update batch was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `min_samples_per_update` samples were waiting.
    Threshold,
    /// `update_frequency` elapsed with samples waiting.
    Schedule,
    /// A flush or shutdown.
    Flush,
}

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
    /// Why the batch was emitted.
    pub trigger: Trigger,
}

/// The drift measured on the window that ends with a batch.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DriftReport {
    /// PSI per feature (empty while the reference is being collected).
    pub psi: Vec<(String, f64)>,
    /// KS test per numeric feature, when `drift.ks` is on.
    pub ks: Vec<(String, Ks)>,
    /// The largest PSI.
    pub max_psi: f64,
    /// Features over the moderate PSI threshold.
    pub alerts: Vec<Alert>,
    /// Severity from PSI alone.
    pub psi_severity: Severity,
    /// Concept-drift level of the loss stream.
    pub concept: ConceptLevel,
    /// The latest concept-drift alarm.
    pub concept_alarm: Option<ConceptAlarm>,
    /// The resulting severity: the higher of `psi_severity` and the concept
    /// level's (warning: moderate, drift: severe).
    pub severity: Severity,
    /// Samples in the reference.
    pub reference_samples: usize,
    /// Samples in the current window.
    pub window_samples: usize,
    /// The samples the window covers: `window_start .. window_end`.
    pub window_start: u64,
    /// One past the last sample in the window.
    pub window_end: u64,
    /// Times the reference has been re-based so far.
    pub rebases: usize,
    /// The PSI thresholds in force when the report was made.
    pub thresholds: PsiThresholds,
}

/// A feature whose PSI is over the moderate threshold: a drift alert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Feature name.
    pub feature: String,
    /// Its PSI.
    pub psi: f64,
    /// Moderate or severe.
    pub severity: Severity,
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
}

/// Agent start-up → Trainer: where to send the loss stream (the Drift actor
/// is created after the Trainer, which it feeds).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ConnectDrift(pub Addr<crate::actors::drift::Drift>);

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

/// What an offline training produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfflineReport {
    /// The new offline version (now active).
    pub version: VersionId,
    /// Why it was trained.
    pub reason: String,
    /// Rows, passes and the holdout metric.
    #[serde(flatten)]
    pub trained: Trained,
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
    /// Why the batch was emitted.
    pub trigger: Trigger,
    /// Drift measured with this batch in the window.
    pub drift: DriftReport,
    /// The drift reference in force (stored with the checkpoint).
    pub reference: Option<Arc<DriftReference>>,
}

/// Trainer or Checkpointer → Ingest: this many samples left the pending count
/// (skipped, or trained on and checkpointed).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct TrainedCount(pub usize);

/// Trainer → Checkpointer: a model state to write as the next online checkpoint
/// and then serve.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Checkpoint {
    /// The saved model (self-describing bytes).
    pub bytes: Vec<u8>,
    /// Its serving snapshot.
    pub snapshot: Arc<dyn Predictor>,
    /// Samples trained on so far.
    pub samples_seen: u64,
    /// Learning rate of the update.
    pub learning_rate: f32,
    /// Drift severity of the update.
    pub severity: Severity,
    /// Progressive metrics at the time.
    pub metrics: Option<Scores>,
    /// The drift reference the model was monitored against.
    pub drift_reference: Option<Arc<DriftReference>>,
    /// The update's samples, released from Ingest's pending count once the
    /// checkpoint is written (or failed), so back-pressure also bounds the
    /// checkpoints waiting to be written.
    pub release: Option<(actix::Recipient<TrainedCount>, usize)>,
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

/// Host → Checkpointer: make a kept version active; answers its entry and
/// verified bytes.
#[derive(Message, Debug)]
#[rtype(result = "Result<(VersionEntry, Vec<u8>), AgentError>")]
pub struct Activate(pub VersionId);

/// Host → Trainer: continue online learning from `model`, version
/// `version`, and serve it.
#[derive(Message)]
#[rtype(result = "()")]
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
}

/// Host → ServingActor: the outcomes of a keyed prediction; answers the rows
/// counted.
#[derive(Message, Debug)]
#[rtype(result = "Result<usize, AgentError>")]
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

/// Checkpointer → ServingActor: serve this snapshot as version `version`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Promote {
    /// The snapshot.
    pub snapshot: Arc<dyn Predictor>,
    /// Its version.
    pub version: VersionId,
}

/// Passed along Drift → Trainer → Checkpointer → ServingActor; the ServingActor answers on
/// the channel once everything sent before it has been handled.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Barrier(pub crossbeam_channel::Sender<()>);

/// Host → ServingActor: add an event subscriber.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Subscribe(pub crossbeam_channel::Sender<Event>);

/// Any actor → ServingActor: publish an event to the subscribers.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Publish(pub Event);

/// Host → Ingest: the ingest counters.
#[derive(Message, Debug)]
#[rtype(result = "IngestStats")]
pub struct GetIngestStats;

/// Ingest counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Samples accepted since start.
    pub accepted: u64,
    /// Samples in the buffer, not yet handed to training.
    pub buffered: u64,
    /// Samples handed to training whose update has not finished.
    pub in_flight: u64,
    /// Calls refused by back-pressure.
    pub backpressure_refusals: u64,
    /// Accepted samples labelled 1 (clicks, churners); classifiers only.
    pub positive: u64,
    /// Accepted samples labelled 0; classifiers only.
    pub negative: u64,
    /// Accepted samples when training last started (the count the next
    /// threshold trigger is measured from).
    pub at_last_training: u64,
    /// New samples that start the next update: `online.min_samples_per_update`
    /// (the online-training threshold), or less during the cold start.
    pub threshold: u64,
    /// New samples still needed before training starts.
    pub until_trigger: u64,
}

/// Host → Trainer: the training counters and metrics.
#[derive(Message, Debug)]
#[rtype(result = "TrainerStats")]
pub struct GetTrainerStats;

/// Training counters and rolling progressive metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TrainerStats {
    /// Samples learned from.
    pub trained: u64,
    /// Samples of updates that were skipped or refused.
    pub skipped: u64,
    /// Updates applied.
    pub updates: u64,
    /// Updates skipped or refused.
    pub updates_skipped: u64,
    /// Learning rate of the last update.
    pub learning_rate: f32,
    /// Severity of the last update.
    pub severity: Severity,
    /// Progressive metrics over the last `window` scored samples.
    pub metrics: Option<Scores>,
    /// Holdout metrics of the active offline version, when it is one or
    /// online learning continued from one.
    pub offline_metrics: Option<Scores>,
    /// Samples scored since the last offline version (or the start).
    pub scored_since_offline: u64,
    /// Full retrains run.
    pub retrains: u64,
}

/// An event a host can subscribe to ([`crate::Agent::subscribe`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An update was applied: the model learned a batch and the new
    /// version is served.
    UpdateApplied {
        /// Why the update ran.
        reason: Trigger,
        /// Samples learned from.
        samples: usize,
        /// Learning rate used.
        learning_rate: f32,
        /// Drift severity.
        severity: Severity,
        /// Largest PSI.
        max_psi: f64,
        /// Mean loss of the batch before learning (progressive).
        loss_before: f64,
        /// Index of the first sample.
        first_sample: u64,
        /// Steps whose gradient the safeguard clipped.
        clipped_steps: usize,
    },
    /// An update did not run or was refused (`updated = false`).
    UpdateSkipped {
        /// Why.
        reason: String,
        /// Samples concerned.
        samples: usize,
        /// Learning rate that would have been used.
        learning_rate: f32,
        /// Drift severity.
        severity: Severity,
        /// Largest PSI.
        max_psi: f64,
    },
    /// Drift measured on a batch.
    DriftReport(DriftReport),
    /// A checkpoint file was written.
    Checkpointed {
        /// The checkpoint's version.
        version: VersionId,
        /// Its path.
        path: String,
        /// Older checkpoints removed by retention.
        removed: Vec<String>,
    },
    /// A checkpoint could not be written.
    CheckpointFailed {
        /// What went wrong.
        error: String,
    },
    /// The ServingActor now serves this version.
    Promoted {
        /// The version.
        version: VersionId,
    },
    /// The guardrail removed a challenger that did worse than the champion.
    ChallengerDemoted {
        /// The challenger's version.
        version: Option<VersionId>,
        /// The champion's outcome metrics at the time.
        champion: Box<VariantStats>,
        /// The challenger's.
        challenger: Box<VariantStats>,
    },
    /// A new offline version was trained and is now active.
    OfflineTrained(OfflineReport),
    /// A full retrain is starting.
    RetrainTriggered {
        /// `"schedule"` or `"degradation"`.
        reason: String,
        /// Retained samples it trains on.
        samples: usize,
    },
    /// A due full retrain could not run.
    RetrainFailed {
        /// Why it was due.
        reason: String,
        /// What went wrong.
        error: String,
    },
    /// A changed config file was applied.
    ConfigReloaded {
        /// The file.
        path: String,
        /// Changed keys that only take effect after a restart.
        restart_required: Vec<String>,
    },
    /// A changed config file was refused; the previous config stays.
    ConfigRejected {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
}

/// Host → Checkpointer: checkpoint counters.
#[derive(Message, Debug)]
#[rtype(result = "CheckpointStats")]
pub struct GetCheckpointStats;

/// Checkpoint counters.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CheckpointStats {
    /// Versions (online and offline) written since start.
    pub checkpoints_written: u64,
    /// Checkpoint writes that failed.
    pub checkpoint_failures: u64,
    /// The active version.
    pub active: Option<VersionId>,
    /// The newest online checkpoint on disk: (version, path).
    pub latest: Option<(VersionId, String)>,
    /// Online checkpoints on disk.
    pub kept: usize,
    /// Offline versions on disk.
    pub offline_versions: usize,
    /// Bytes on disk under the model's directories (versions, manifests,
    /// drift references).
    pub disk_bytes: u64,
    /// Versions that recovery at start found damaged or missing.
    pub skipped_at_start: Vec<Skipped>,
}

/// Watcher → actors: a new, validated configuration is in force.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ConfigChanged(pub Arc<crate::config::Config>);

/// notify's thread → Watcher: the watched file may have changed.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct FileChanged;
