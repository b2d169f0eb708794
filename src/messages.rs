//! Every message the actors exchange, and the events a host can subscribe to.
//!
//! ```text
//!  host ──IngestSamples──▶ Ingest ──ObserveBatch──▶ Drift ──TrainBatch──▶ Trainer
//!                            ▲                                            │
//!                            └──────────────────TrainedCount──────────────┤
//!  host ◀── predict (atomic load) ── Server ◀──Promote── Registry ◀──Checkpoint
//! ```
//! `Barrier` travels the same path (Drift → Trainer → Registry → Server) so
//! that `flush` returns only when everything sent before it is served.

use std::sync::Arc;

use actix::prelude::*;
use refit_plugin::Predictor;
use serde::Serialize;

use crate::agent::{AgentError, Severity};
use crate::metrics::Scores;

/// Host → Ingest: labelled rows, row-major.
#[derive(Message, Debug)]
#[rtype(result = "Result<IngestAck, AgentError>")]
pub struct IngestSamples {
    /// Row-major features.
    pub rows: Vec<f32>,
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
    /// Row-major features.
    pub rows: Vec<f32>,
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
    /// The largest PSI.
    pub max_psi: f64,
    /// Features over the moderate threshold: (feature, psi, severity).
    pub alerts: Vec<(String, f64, Severity)>,
    /// The resulting severity.
    pub severity: Severity,
    /// Samples in the reference.
    pub reference_samples: usize,
    /// Samples in the current window.
    pub window_samples: usize,
    /// Times the reference has been re-based so far.
    pub rebases: usize,
}

/// Drift → Trainer: a batch to learn from, with the drift it carries.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct TrainBatch {
    /// Row-major features.
    pub rows: Vec<f32>,
    /// Labels.
    pub labels: Vec<f32>,
    /// Index of the first sample.
    pub first_sample: u64,
    /// Why the batch was emitted.
    pub trigger: Trigger,
    /// Drift measured with this batch in the window.
    pub drift: DriftReport,
}

/// Trainer → Ingest: this many samples left the pending count (trained on or
/// skipped).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct TrainedCount(pub usize);

/// Trainer → Registry: a model state to write as the next online checkpoint
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
}

/// Registry → Server: serve this snapshot as version `version`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Promote {
    /// The snapshot.
    pub snapshot: Arc<dyn Predictor>,
    /// Its checkpoint number.
    pub version: u64,
}

/// Passed along Drift → Trainer → Registry → Server; the Server answers on
/// the channel once everything sent before it has been handled.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Barrier(pub crossbeam_channel::Sender<()>);

/// Host → Server: add an event subscriber.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Subscribe(pub crossbeam_channel::Sender<Event>);

/// Any actor → Server: publish an event to the subscribers.
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
}

/// An event a host can subscribe to ([`crate::Agent::subscribe`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An update was applied (the guide's `update()` result with
    /// `updated = true`).
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
        /// Checkpoint number.
        version: u64,
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
    /// The Server now serves this version.
    Promoted {
        /// Checkpoint number.
        version: u64,
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

/// Host → Registry: checkpoint counters.
#[derive(Message, Debug)]
#[rtype(result = "RegistryStats")]
pub struct GetRegistryStats;

/// Checkpoint counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RegistryStats {
    /// Checkpoints written since start.
    pub checkpoints_written: u64,
    /// Checkpoint writes that failed.
    pub checkpoint_failures: u64,
    /// The newest checkpoint on disk: (number, path).
    pub latest: Option<(u64, String)>,
    /// Checkpoints on disk.
    pub kept: usize,
}

/// Watcher → actors: a new, validated configuration is in force.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct ConfigChanged(pub Arc<crate::config::Config>);

/// notify's thread → Watcher: the watched file may have changed.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct FileChanged;
