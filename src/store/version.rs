//! Version identities: online checkpoints (`online_017`) and offline
//! versions (`v3`) are numbered separately, each never reusing a number.
//!
//! ```
//! use refit::store::{Mode, VersionId};
//! let v: VersionId = "v3".parse().unwrap();
//! assert_eq!(v, VersionId::offline(3));
//! assert_eq!("17".parse::<VersionId>().unwrap(), VersionId::online(17));
//! assert_eq!("online_017".parse::<VersionId>().unwrap().to_string(), "online_017");
//! assert!("latest".parse::<VersionId>().is_err());
//! assert_eq!(VersionId::online(0).mode, Mode::Online);
//! ```

use serde::{Deserialize, Serialize};

/// Online checkpoint or offline version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Written after online updates; the last `checkpoint_retention` kept.
    Online,
    /// Trained from scratch on a full data set; all kept.
    Offline,
}

/// A version: its mode and number (0: the untrained initial model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct VersionId {
    /// Online or offline.
    pub mode: Mode,
    /// Number within the mode, from 1.
    pub number: u64,
}

impl VersionId {
    /// Online checkpoint `n`.
    pub fn online(number: u64) -> Self {
        Self {
            mode: Mode::Online,
            number,
        }
    }

    /// Offline version `n`.
    pub fn offline(number: u64) -> Self {
        Self {
            mode: Mode::Offline,
            number,
        }
    }
}

impl std::fmt::Display for VersionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.mode {
            Mode::Online => write!(f, "online_{:03}", self.number),
            Mode::Offline => write!(f, "v{}", self.number),
        }
    }
}

/// A version string that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a version: use a checkpoint number (`17`, `online_017`) or an offline version (`v3`)"
)]
pub struct ParseVersionError(pub String);

impl std::str::FromStr for VersionId {
    type Err = ParseVersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        let err = || ParseVersionError(s.to_owned());
        let (mode, digits) = if let Some(d) = t.strip_prefix("online_") {
            (Mode::Online, d)
        } else if let Some(d) = t.strip_prefix("offline_") {
            (Mode::Offline, d)
        } else if let Some(d) = t.strip_prefix('v') {
            (Mode::Offline, d)
        } else {
            (Mode::Online, t)
        };
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(err());
        }
        let number = digits.parse().map_err(|_| err())?;
        Ok(Self { mode, number })
    }
}
