//! What a host sees of a running agent: the events it can subscribe to,
//! the counters and metrics of `stats()`, and the answers of `ingest` and
//! `train_offline`. (The messages the actors exchange among themselves are
//! internal: `src/messages.rs`.)

use serde::{Deserialize, Serialize};

pub use crate::drift::PsiThresholds;
use crate::drift::Severity;
use crate::drift::concept::{ConceptAlarm, ConceptLevel};
use crate::drift::ks::Ks;
use crate::metrics::Scores;
use crate::offline::Trained;
use crate::serving::VariantStats;
use crate::store::{Skipped, VersionId};

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

/// Why an update batch was emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trigger {
    /// `min_samples_per_update` samples were waiting.
    Threshold,
    /// `update_frequency` elapsed with samples waiting.
    Schedule,
    /// A flush or shutdown.
    Flush,
}

/// The drift measured on the window that ends with a batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Feature name.
    pub feature: String,
    /// Its PSI.
    pub psi: f64,
    /// Moderate or severe.
    pub severity: Severity,
}

/// What an offline training produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfflineReport {
    /// The new offline version (now active).
    pub version: VersionId,
    /// Why it was trained.
    pub reason: String,
    /// Rows, passes and the holdout metric.
    #[serde(flatten)]
    pub trained: Trained,
}

/// Ingest counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct IngestStats {
    /// Samples accepted since start (in fleet mode: taken from the shared
    /// stream for training, by the training replica).
    pub accepted: u64,
    /// Fleet mode: samples this replica's host sent that the shared stream
    /// stored (acknowledged).
    pub published: u64,
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
    /// Samples the model has learned in all: those of the version it
    /// started from (its manifest's `samples_seen`) and `trained` since.
    pub samples_seen: u64,
    /// The version the Trainer last served (an online update's, a
    /// rollback's or an offline version's).
    pub served_version: Option<VersionId>,
    /// Updates served since the newest model handed to the Checkpointer:
    /// served, not yet persisted.
    pub unpersisted_updates: u64,
}

/// Fleet mode: where this replica stands in its fleet (`/v1/stats`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FleetStats {
    /// This replica's name.
    pub replica: String,
    /// Whether this replica trains (holds the lease).
    pub training: bool,
    /// The training replica, as the status bucket says.
    pub trainer: Option<String>,
    /// Whether this replica's connections to NATS (the samples', and the
    /// versions' and lease's) are up now.
    pub connected: bool,
    /// The fleet version this replica serves.
    pub serving: Option<VersionId>,
    /// Stream sequences below this one are learned by the newest announced
    /// version.
    pub position: Option<u64>,
    /// The sample stream's first and last stored sequences.
    pub stream_first: Option<u64>,
    /// See `stream_first`.
    pub stream_last: Option<u64>,
    /// Every replica that reported within three lease TTLs.
    pub replicas: Vec<ReplicaStatus>,
}

/// One replica's last report to its fleet (the value of its key in the
/// status bucket).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReplicaStatus {
    /// Its name.
    pub replica: String,
    /// Whether it trains.
    pub training: bool,
    /// The version it serves.
    pub serving: Option<VersionId>,
    /// Its position in the stream, when it trains.
    pub position: Option<u64>,
    /// When it reported (ms since the epoch).
    pub updated_ms: u64,
}

/// An event a host can subscribe to ([`crate::Agent::subscribe`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An update was applied: the model learned a batch and the new
    /// version is served.
    UpdateApplied {
        /// Why the update ran.
        reason: Trigger,
        /// Samples learned from.
        samples: usize,
        /// Learning rate used (none: the model sets its own, as FTRL does).
        learning_rate: Option<f32>,
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
        /// Seconds the training step took.
        train_seconds: f64,
        /// Seconds from the batch leaving Ingest to its update being
        /// served (drift, waiting, training).
        lag_seconds: f64,
        /// The version the update is served as, at once. It is on disk once
        /// a `Checkpointed` event names it; until then it is served but not
        /// persisted (a crash loses its model state, not its samples: a
        /// restart replays them from the sample log). After a crash, the
        /// numbers of updates that never reached the disk are given again.
        version: VersionId,
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
        /// Seconds the write took (files, fsyncs, manifest).
        write_seconds: f64,
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
        /// `"schedule"`, `"degradation"`, `"requested"` (the sample log, on
        /// request) or `"upload"` (rows the host sent).
        reason: String,
        /// Retained samples it trains on.
        samples: usize,
    },
    /// An offline training finished an epoch.
    OfflineProgress {
        /// Why it runs: `"schedule"`, `"degradation"`, `"requested"` (from
        /// the sample log, on request), `"upload"` or `"manual"`.
        reason: String,
        /// Epochs done.
        epoch: usize,
        /// Epochs in all.
        epochs: usize,
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

/// What the serving actor counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ServingStats {
    /// Events dropped, oldest first, because a subscriber did not read its
    /// channel (bounded: [`crate::Agent::subscribe_with_capacity`]).
    pub events_dropped: u64,
    /// Subscribers reading now.
    pub subscribers: usize,
    /// Predictions waiting for feedback.
    pub feedback_pending: usize,
    /// Predictions dropped unanswered after `feedback.ttl`.
    pub feedback_expired: u64,
    /// Predictions dropped unanswered beyond the pending bound.
    pub feedback_dropped: u64,
}

/// A/B counters and metrics.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AbStats {
    /// The challenger's traffic share (0 without a challenger).
    pub share: f64,
    /// Outcome metrics per variant that has any.
    pub variants: Vec<VariantStats>,
    /// Keyed predictions waiting for an outcome.
    pub pending: usize,
    /// Challengers the guardrail demoted.
    pub demoted: u64,
    /// The challenger's version, while a test runs.
    pub challenger: Option<VersionId>,
    /// The shadow's version, when there is one.
    pub shadow: Option<VersionId>,
    /// The ensemble's offline member, when there is one.
    pub ensemble: Option<VersionId>,
    /// Its weight in the champion's answers (`[serving]
    /// ensemble_offline_weight`).
    pub ensemble_weight: f64,
}
