//! The drift reference as stored with each model version: per feature, the
//! bins learned from the reference data and its counts in them. It
//! describes the data the model was trained on, so a restored or rolled-back
//! version can be monitored against its own reference.
//!
//! Each online checkpoint `<name>_online_<NNN>.refit` gets a sidecar
//! `<name>_online_<NNN>.drift.json` holding [`DriftReference::to_json`].
//!
//! ```
//! use refit::drift::reference::{DriftReference, ReferenceSource};
//! use refit::drift::BinEdges;
//! let col = [1.0f32, 2.0, 3.0, 4.0];
//! let r = DriftReference::from_columns(
//!     &["x".to_string()],
//!     &[col.to_vec()],
//!     &[BinEdges::from_reference(&col, 2)],
//!     ReferenceSource::FirstSamples,
//! );
//! let back = DriftReference::from_json(&r.to_json()).unwrap();
//! assert_eq!(back, r);
//! assert_eq!(back.samples, 4);
//! ```

use serde::{Deserialize, Serialize};

use crate::drift::psi::BinEdges;

/// Format version of the stored reference.
pub const REFERENCE_FORMAT: u32 = 1;

/// Where a reference came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceSource {
    /// The first `drift.reference_size` samples.
    FirstSamples,
    /// Set by the host (e.g. the batch model's training data).
    Host,
    /// The training rows of an offline version.
    Offline,
    /// The drift window after sustained drift.
    Rebase,
}

/// One feature's reference: its bins and the reference counts in them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureReference {
    /// Feature name.
    pub name: String,
    /// Bins (quantile cut points or levels).
    pub edges: BinEdges,
    /// Reference counts per bin (`edges.bins()` of them).
    pub counts: Vec<u64>,
}

/// A drift reference (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DriftReference {
    /// [`REFERENCE_FORMAT`].
    pub format: u32,
    /// Where it came from.
    pub source: ReferenceSource,
    /// Samples in the reference.
    pub samples: u64,
    /// Per feature, in column order.
    pub features: Vec<FeatureReference>,
}

/// A stored reference that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    /// Not valid JSON of this shape.
    #[error("drift reference: {0}")]
    Parse(#[from] serde_json::Error),
    /// Written by a newer build.
    #[error("drift reference format {0} is newer than this build's {REFERENCE_FORMAT}")]
    Format(u32),
    /// Counts that do not fit the bins.
    #[error("drift reference of `{0}`: counts do not match its bins")]
    Counts(String),
}

impl DriftReference {
    /// A reference from per-feature values and the bins learned from them.
    pub fn from_columns(
        names: &[String],
        columns: &[Vec<f32>],
        edges: &[BinEdges],
        source: ReferenceSource,
    ) -> Self {
        let features = names
            .iter()
            .zip(columns)
            .zip(edges)
            .map(|((name, col), e)| FeatureReference {
                name: name.clone(),
                counts: e.counts(col),
                edges: e.clone(),
            })
            .collect();
        Self {
            format: REFERENCE_FORMAT,
            source,
            samples: columns.first().map_or(0, |c| c.len() as u64),
            features,
        }
    }

    /// JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|e| unreachable!("plain data serializes: {e}"))
    }

    /// Parses and checks JSON written by [`DriftReference::to_json`].
    pub fn from_json(text: &str) -> Result<Self, ReferenceError> {
        let r: Self = serde_json::from_str(text)?;
        if r.format > REFERENCE_FORMAT {
            return Err(ReferenceError::Format(r.format));
        }
        if let Some(bad) = r.features.iter().find(|f| f.counts.len() != f.edges.bins()) {
            return Err(ReferenceError::Counts(bad.name.clone()));
        }
        Ok(r)
    }
}
