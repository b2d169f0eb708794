//! The errors of the agent: what a host gets back from every call.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use refit_plugin::PluginError;

use crate::config::ConfigError;
use crate::store::{StoreError, VersionId};

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
    /// One call carries more samples than may ever wait for training: it
    /// can never be taken, whatever the wait (not retryable).
    #[error(
        "{samples} samples in one call, more than online.max_pending_samples = {max} can ever hold: split the call"
    )]
    TooManySamples { samples: u64, max: u64 },
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
    #[error(
        "the sample log {}: {op} failed ({source}); the samples were not accepted",
        dir.display()
    )]
    SampleLog {
        /// The log's directory.
        dir: PathBuf,
        /// What failed: `open`, `append` or `fsync`.
        op: &'static str,
        /// The I/O error (shared: one failed group commit answers every
        /// call that waited for it).
        #[source]
        source: Arc<std::io::Error>,
    },
    /// A stored version's file passed its checksum but its plugin cannot
    /// load it.
    #[error("stored version {version} cannot be loaded: {source}")]
    Unreadable {
        /// The version.
        version: VersionId,
        /// The plugin's reason.
        #[source]
        source: PluginError,
    },
    /// There is no challenger to promote: no A/B test is running.
    #[error("there is no challenger to promote")]
    NoChallenger,
    /// An argument is outside its domain; the message names it.
    #[error("{0}")]
    InvalidArgument(String),
    /// A step inside the agent failed that cannot fail when the agent works
    /// as designed (a bug to report).
    #[error("internal error: {0}")]
    Internal(String),
    /// The agent has been shut down (or its thread died).
    #[error("the agent is stopped")]
    Stopped,
    /// Fleet mode: NATS did not store or answer in time; nothing of the
    /// call was accepted, and it can be retried.
    #[error("fleet: {0} (nothing was accepted; retry)")]
    FleetUnavailable(String),
    /// The agent could not start.
    #[error("starting the agent: {0}")]
    Start(String),
    /// A dense model with no features: the config lists none, the builder
    /// got none, and the store holds no model whose schema would say.
    #[error(
        "starting the agent: model.features is empty: list the features in the config or give them to the builder (or let the first named samples fix them: `refit serve` does)"
    )]
    NoFeatures,
    /// A flush did not complete in time.
    #[error("timed out after {0:?} waiting for training to catch up")]
    Timeout(Duration),
}

impl AgentError {
    /// The error of a failed sample-log `op` on the log in `dir`.
    pub fn sample_log(
        dir: &Path,
        op: &'static str,
        source: impl Into<Arc<std::io::Error>>,
    ) -> Self {
        AgentError::SampleLog {
            dir: dir.to_owned(),
            op,
            source: source.into(),
        }
    }
}

/// [`AgentError::Incompatible`] when the stored model of `version` is of
/// another kind or task, or has other features, classes or categorical
/// features than the configured model.
pub(crate) fn check_stored_spec(
    version: &VersionId,
    stored: &refit_plugin::ModelSpec,
    configured: &refit_plugin::ModelSpec,
) -> Result<(), AgentError> {
    let problem = if stored.kind != configured.kind {
        format!(
            "is a `{}` model, the config asks for `{}`",
            stored.kind, configured.kind
        )
    } else if stored.task != configured.task {
        format!(
            "is for {}, the config asks for {}",
            stored.task, configured.task
        )
    } else if stored.features != configured.features {
        stored
            .features
            .iter()
            .zip(&configured.features)
            .position(|(a, b)| a != b)
            .map_or_else(
                || {
                    format!(
                        "has {} features, the config {}",
                        stored.features.len(),
                        configured.features.len()
                    )
                },
                |i| {
                    format!(
                        "has feature `{}` in column {}, the config `{}`",
                        stored.features[i],
                        i + 1,
                        configured.features[i]
                    )
                },
            )
    } else if stored.classes != configured.classes {
        format!(
            "has the classes {:?}, the config {:?}",
            stored.classes, configured.classes
        )
    } else if stored.categorical != configured.categorical {
        format!(
            "reads {:?} as categorical, the config {:?}",
            stored.categorical, configured.categorical
        )
    } else {
        return Ok(());
    };
    Err(AgentError::Incompatible {
        version: *version,
        problem,
    })
}
