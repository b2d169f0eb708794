//! `manifest.json`: one per version directory, listing every version kept
//! there with its lineage, the training state at the time, its metrics and
//! the checksum of its file. The online directory's manifest also records
//! which version (online or offline) is active.

use serde::{Deserialize, Serialize};

use crate::drift::Severity;
use crate::metrics::Scores;
use crate::store::version::{Mode, VersionId};

/// Manifest format written by this build.
pub const MANIFEST_FORMAT: u32 = 1;

/// One version's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionEntry {
    /// Online or offline.
    pub mode: Mode,
    /// Number within the mode.
    pub number: u64,
    /// File name in the directory.
    pub file: String,
    /// The version training continued from (none: from scratch).
    pub parent: Option<VersionId>,
    /// Creation time, RFC 3339 (UTC).
    pub created: String,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: u64,
    /// Samples trained on so far (online), or in the training set (offline).
    pub samples_seen: u64,
    /// Learning rate of the update that wrote it.
    #[serde(default)]
    pub learning_rate: Option<f32>,
    /// Drift severity at the time.
    pub severity: Severity,
    /// Progressive metrics at the time (online) or holdout metrics
    /// (offline).
    pub metrics: Option<Scores>,
    /// Why it was written (`"update"`, `"manual"`, `"schedule"`,
    /// `"degradation"`).
    pub reason: String,
    /// File size in bytes.
    pub file_size: u64,
    /// CRC-32 of the file's bytes.
    pub crc32: u32,
    /// The drift reference sidecar, when one was stored.
    pub drift_reference: Option<String>,
    /// The model has learned every logged sample numbered below this one
    /// (the sample log's numbering); a restart replays the log from here.
    /// None in manifests written before replay existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learned_through: Option<u64>,
}

impl VersionEntry {
    /// The version's identity.
    pub fn id(&self) -> VersionId {
        VersionId {
            mode: self.mode,
            number: self.number,
        }
    }
}

/// A directory's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The mode of this directory's versions.
    pub mode: Mode,
    /// The next number to use (numbers are never reused).
    pub next: u64,
    /// The active version (kept in the online directory's manifest; it may
    /// name an offline version).
    pub active: Option<VersionId>,
    /// Where a restart replays the sample log from into the active
    /// version, when that is past the version's own `learned_through`:
    /// after a rollback or promotion, the samples the discarded model had
    /// learned are not learned again. Cleared when a new version is
    /// written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_replay_from: Option<u64>,
    /// Versions kept, oldest first.
    pub versions: Vec<VersionEntry>,
}

impl Manifest {
    /// An empty manifest.
    pub fn empty(mode: Mode) -> Self {
        Self {
            format: MANIFEST_FORMAT,
            mode,
            next: 1,
            active: None,
            active_replay_from: None,
            versions: Vec::new(),
        }
    }

    /// The entry of version `number`.
    pub fn get(&self, number: u64) -> Option<&VersionEntry> {
        self.versions.iter().find(|v| v.number == number)
    }
}
