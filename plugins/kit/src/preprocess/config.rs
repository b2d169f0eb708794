//! The `[model.preprocessing]` settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to do with a missing (NaN) value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Missing {
    /// Refuse the row with an error naming the feature (default).
    #[default]
    Error,
    /// Running mean for a numeric feature, the "missing" slot for a
    /// categorical one.
    Impute,
}

/// How a feature is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureType {
    /// A number (default).
    #[default]
    Numeric,
    /// A level code.
    Categorical,
}

/// Overrides for one feature (`[model.preprocessing.features.NAME]`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeatureOverride {
    /// Numeric or categorical.
    #[serde(default, rename = "type")]
    pub kind: Option<FeatureType>,
    /// Standardise this numeric feature.
    #[serde(default)]
    pub standardize: Option<bool>,
    /// Missing-value policy of this feature.
    #[serde(default)]
    pub missing: Option<Missing>,
}

/// The `[model.preprocessing]` settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PreprocessConfig {
    /// Standardise numeric features (default true).
    pub standardize: bool,
    /// Default missing-value policy (default `error`).
    pub missing: Missing,
    /// One-hot slots per categorical feature (default 16).
    pub onehot_max: usize,
    /// Shared hash slots per categorical feature for levels beyond
    /// `onehot_max` (default 32).
    pub hash_buckets: usize,
    /// Per-feature overrides, by feature name.
    pub features: BTreeMap<String, FeatureOverride>,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        Self {
            standardize: true,
            missing: Missing::Error,
            onehot_max: 16,
            hash_buckets: 32,
            features: BTreeMap::new(),
        }
    }
}

impl PreprocessConfig {
    /// No transformation at all: numeric features pass through unchanged.
    pub fn identity() -> Self {
        Self {
            standardize: false,
            ..Self::default()
        }
    }
}
