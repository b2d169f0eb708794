//! The errors of the agent: what a host gets back from every call.

use std::time::Duration;

use refit_plugin::PluginError;

use crate::config::ConfigError;
use crate::registry::{StoreError, VersionId};

/// Errors of the agent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AgentError {
    /// The configuration was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Input or model error.
    #[error(transparent)]
    Plugin(#[from] PluginError),
    /// `max_pending_samples` accepted samples are waiting for training.
    #[error(
        "back-pressure: {pending} samples are waiting for training (online.max_pending_samples = {max}); retry later"
    )]
    Backpressure { pending: u64, max: u64 },
    /// No keyed prediction with this id is waiting for feedback (unknown,
    /// already reported, or dropped after `ab.max_pending` newer ones).
    #[error("no prediction {0} is waiting for feedback (unknown, already reported, or expired)")]
    UnknownRequest(u64),
    /// The model store failed or has no such version.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored version does not fit the configured model.
    #[error("stored version {version}: {problem}")]
    Incompatible {
        /// The version.
        version: VersionId,
        /// What differs.
        problem: String,
    },
    /// The sample log could not be written; the samples were not accepted.
    #[error("the sample log could not be written ({0}); the samples were not accepted")]
    SampleLog(String),
    /// The agent has been shut down (or its thread died).
    #[error("the agent is stopped")]
    Stopped,
    /// The agent could not start.
    #[error("starting the agent: {0}")]
    Start(String),
    /// A flush did not complete in time.
    #[error("timed out after {0:?} waiting for training to catch up")]
    Timeout(Duration),
}
