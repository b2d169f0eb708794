//! `[offline]` and `[retrain]`: training from scratch, on demand and on
//! schedule or degradation.

use serde::{Deserialize, Serialize};

use super::online::check_rate;
use super::{HumanDuration, Invalid, invalid};

/// `[offline]`: training a model from scratch on a full data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OfflineConfig {
    /// Passes over the training rows (default 5).
    pub epochs: usize,
    /// Share of the rows, taken from the end (the newest), held out to
    /// report the version's metric (default 0.2).
    pub holdout: f64,
    /// Learning rate; by default the model kind's `moderate` rate (0.01
    /// with constant SGD).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learning_rate: Option<f32>,
    /// Rows per `partial_fit` call (default 256).
    pub batch_size: usize,
    /// Seed of the per-epoch shuffle (default 42).
    pub seed: u64,
}

impl Default for OfflineConfig {
    fn default() -> Self {
        Self {
            epochs: 5,
            holdout: 0.2,
            learning_rate: None,
            batch_size: 256,
            seed: 42,
        }
    }
}

/// `[retrain]`: full retrains from the sample store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetrainConfig {
    /// Retrain from scratch this long after the last offline version (or
    /// the agent's start); default `"4w"`.
    pub full_every: HumanDuration,
    /// Retrain when the online metric over the last `online.metric window`
    /// samples is worse than the active offline version's holdout metric by
    /// more than this (AUC for binary classifiers, accuracy for multiclass
    /// ones; relative MAE for regressors);
    /// default 0.05.
    pub degradation_margin: f64,
    /// Least samples scored since the last offline version before the
    /// degradation rule applies (default 2000).
    pub min_samples: u64,
    /// Most recent retained samples a full retrain uses (default 100000).
    pub max_rows: usize,
    /// Least time between two retrains for degradation (default "1h"), so
    /// a metric that a retrain cannot lift does not start one retrain after
    /// another.
    pub degradation_cooldown: HumanDuration,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        Self {
            full_every: HumanDuration(std::time::Duration::from_secs(28 * 86_400)),
            degradation_margin: 0.05,
            min_samples: 2_000,
            max_rows: 100_000,
            degradation_cooldown: HumanDuration(std::time::Duration::from_secs(3_600)),
        }
    }
}

impl OfflineConfig {
    /// At least one epoch of batches of at least one row, a holdout share
    /// below 1, a positive rate when given.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.epochs == 0 || self.batch_size == 0 {
            return invalid(
                "offline.epochs",
                "and offline.batch_size must be at least 1",
            );
        }
        if !(self.holdout >= 0.0 && self.holdout < 1.0) {
            return invalid(
                "offline.holdout",
                format!("= {} must be in [0, 1)", self.holdout),
            );
        }
        check_rate("offline.learning_rate", self.learning_rate)
    }
}

impl RetrainConfig {
    /// A positive schedule, a margin of 0 or more, at least one row.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.full_every.0.is_zero() {
            return invalid("retrain.full_every", "must be longer than 0");
        }
        if !(self.degradation_margin.is_finite() && self.degradation_margin >= 0.0) {
            return invalid(
                "retrain.degradation_margin",
                format!("= {} must be finite and >= 0", self.degradation_margin),
            );
        }
        if self.max_rows == 0 {
            return invalid("retrain.max_rows", "must be at least 1");
        }
        Ok(())
    }
}
