//! `[samples]`: the on-disk log of accepted samples.

use serde::{Deserialize, Serialize};

use super::{HumanDuration, Invalid, invalid};

/// `[samples]`: the on-disk log of accepted samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplesConfig {
    /// Log every accepted sample (default true). Full retrains need it.
    pub enabled: bool,
    /// A new segment file after this many bytes (default 64 MiB).
    pub segment_bytes: u64,
    /// Drop segments whose samples are all older than this (default "8w").
    pub max_age: HumanDuration,
    /// Drop the oldest segments while the log is larger (default 1 GiB).
    pub max_bytes: u64,
    /// When `ingest` acknowledges (default `none`): see [`Durability`].
    pub durability: Durability,
    /// With `durability = "batch"`: how long a call waits for others to
    /// share its fsync (default "2ms").
    pub group_commit: HumanDuration,
}

/// When an accepted sample is acknowledged (`[samples] durability`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// Once written to the operating system: a crash of the process loses
    /// nothing acknowledged, a crash of the machine can lose what was not
    /// fsynced yet (fsync on `flush()` and shutdown).
    #[default]
    None,
    /// Group commit: once an fsync covering the call completed; calls that
    /// arrive within `group_commit` share one fsync.
    Batch,
    /// Once fsynced, one fsync per call.
    Always,
}

impl Default for SamplesConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            segment_bytes: 64 << 20,
            max_age: HumanDuration(std::time::Duration::from_secs(56 * 86_400)),
            max_bytes: 1 << 30,
            durability: Durability::None,
            group_commit: HumanDuration(std::time::Duration::from_millis(2)),
        }
    }
}

impl SamplesConfig {
    /// Segments of at least a byte; durability only with the log on; a
    /// group commit of at most a second.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.segment_bytes == 0 {
            return invalid("samples.segment_bytes", "must be at least 1");
        }
        if self.durability != Durability::None && !self.enabled {
            return invalid(
                "samples.durability",
                "needs samples.enabled = true (the sample log is what is made durable)",
            );
        }
        if self.group_commit.0 > std::time::Duration::from_secs(1) {
            return invalid(
                "samples.group_commit",
                "must be at most 1s (acknowledgements wait for it)",
            );
        }
        Ok(())
    }
}
