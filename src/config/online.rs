//! `[online]` and `[learning_rate]`: when the model learns, and how fast.

pub use refit_plugin::LearningRates;
use serde::{Deserialize, Serialize};

use super::{HumanDuration, Invalid, invalid};

/// What `ingest` does when `max_pending_samples` are waiting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WhenFull {
    /// Return a back-pressure error at once (default).
    #[default]
    Error,
    /// Block the caller until room is free.
    Wait,
}

/// `[online]`: when the model learns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnlineConfig {
    /// Learn online at all (default true). When false, samples are counted,
    /// buffered and reported as skipped updates.
    pub enabled: bool,
    /// Update when this many samples are waiting (default 1000).
    pub min_samples_per_update: usize,
    /// Cold start (default true): while the model has learned fewer than
    /// `min_samples_per_update` samples, an update starts as soon as
    /// `max(first_update, ceil(cold_start_share * samples learned))` are
    /// waiting, so a new model learns from its first samples and its
    /// updates grow with what it has learned. False: every update waits
    /// for `min_samples_per_update` (the fixed schedule).
    pub cold_start: bool,
    /// The first updates' size under `cold_start` (default 1).
    pub first_update: usize,
    /// Update size as a share of the samples learned, under `cold_start`
    /// (default 1/32: rows wait for at most about 3% of the model's
    /// experience before it learns them).
    pub cold_start_share: f64,
    /// ...or when this much time has passed since the last update with at
    /// least one sample waiting (default "1h").
    pub update_frequency: HumanDuration,
    /// Rows per `partial_fit` step inside an update (default 256).
    pub batch_size: usize,
    /// Online checkpoints kept (default 5).
    pub checkpoint_retention: usize,
    /// When an online update is also written to disk (every update is
    /// served at once either way): default every update, coalesced when
    /// updates outpace the disk.
    pub checkpoint_every: CheckpointEvery,
    /// Accepted samples not yet trained on, at most (default 100000).
    pub max_pending_samples: usize,
    /// `"error"` (default) or `"wait"` when that bound is reached.
    pub when_full: WhenFull,
    /// `[online.quality]`: checks every update passes before it is learned.
    pub quality: super::QualityChecks,
}

impl OnlineConfig {
    /// Samples that start the next update of a model that has learned
    /// `learned` samples: `min_samples_per_update`, or during the cold start
    /// `max(first_update, ceil(cold_start_share * learned))`, cut so that
    /// the cold start ends exactly at `min_samples_per_update` learned
    /// samples (later updates then fall where the fixed schedule's do).
    ///
    /// ```
    /// let online = refit::config::OnlineConfig::default();
    /// let sizes: Vec<usize> = [0, 10, 32, 33, 320, 990, 999, 1000, 50_000]
    ///     .iter()
    ///     .map(|&learned| online.update_size(learned))
    ///     .collect();
    /// assert_eq!(sizes, [1, 1, 1, 2, 10, 10, 1, 1000, 1000]);
    /// ```
    pub fn update_size(&self, learned: u64) -> usize {
        let max = self.min_samples_per_update;
        if !self.cold_start || learned >= max as u64 {
            return max;
        }
        // learned < max: the conversion is exact and the rest is >= 1.
        let rest = max - learned as usize;
        let grown = (learned as f64 * self.cold_start_share).ceil() as usize;
        grown.max(self.first_update).min(rest)
    }
}

impl Default for OnlineConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_samples_per_update: 1000,
            cold_start: true,
            first_update: 1,
            cold_start_share: 1.0 / 32.0,
            update_frequency: HumanDuration(std::time::Duration::from_secs(3_600)),
            batch_size: 256,
            checkpoint_retention: 5,
            checkpoint_every: CheckpointEvery::default(),
            max_pending_samples: 100_000,
            when_full: WhenFull::Error,
            quality: super::QualityChecks::default(),
        }
    }
}

/// `[online] checkpoint_every`: the checkpoint cadence. A checkpoint is
/// written once `updates` updates are not yet on disk, or once `interval`
/// has passed since the last one with an update not yet on disk, whichever
/// comes first; and always at `flush` and shutdown. While a checkpoint is
/// being written, newer updates wait and only the newest of them is
/// written next (coalescing), so a fast stream is never slowed by the
/// disk.
///
/// ```
/// let every: refit::config::CheckpointEvery = toml::from_str(r#"
///     updates = 100
///     interval = "30s"
/// "#).unwrap();
/// assert_eq!(every.updates, 100);
/// assert_eq!(refit::config::CheckpointEvery::default().updates, 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckpointEvery {
    /// After this many updates (default 1: every update; 0: not by count).
    pub updates: u64,
    /// ...or after this much time (default: not by time).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<HumanDuration>,
}

impl Default for CheckpointEvery {
    fn default() -> Self {
        Self {
            updates: 1,
            interval: None,
        }
    }
}

/// `[learning_rate]`: the learning rate for each drift severity. A key left
/// out takes the model kind's own value
/// ([`PluginFactory::learning_rates`](refit_plugin::PluginFactory::learning_rates)):
/// what a rate means is the plugin's (an AdaGrad base rate for the linear
/// kinds, Adam's rate for the MLP, a per-row step with `optimizer = "sgd"`).
///
/// ```
/// use refit::config::{LearningRateTable, LearningRates};
/// let table = LearningRateTable { severe: Some(0.9), ..Default::default() };
/// let kind = LearningRates { stable: 0.05, moderate: 0.2, severe: 0.5 };
/// assert_eq!(table.resolve(kind), LearningRates { stable: 0.05, moderate: 0.2, severe: 0.9 });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearningRateTable {
    /// No significant drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stable: Option<f32>,
    /// Moderate drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moderate: Option<f32>,
    /// Severe drift.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severe: Option<f32>,
}

impl LearningRateTable {
    /// The configured rates, the `kind`'s where a key is left out.
    pub fn resolve(&self, kind: LearningRates) -> LearningRates {
        LearningRates {
            stable: self.stable.unwrap_or(kind.stable),
            moderate: self.moderate.unwrap_or(kind.moderate),
            severe: self.severe.unwrap_or(kind.severe),
        }
    }
}

impl From<LearningRates> for LearningRateTable {
    /// Every rate given.
    fn from(r: LearningRates) -> Self {
        Self {
            stable: Some(r.stable),
            moderate: Some(r.moderate),
            severe: Some(r.severe),
        }
    }
}

impl OnlineConfig {
    /// Counts of at least 1, room for an update, a positive schedule and
    /// cold-start share.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        for (key, v) in [
            ("online.min_samples_per_update", self.min_samples_per_update),
            ("online.batch_size", self.batch_size),
            ("online.checkpoint_retention", self.checkpoint_retention),
            ("online.first_update", self.first_update),
        ] {
            if v == 0 {
                return invalid(key, "must be at least 1");
            }
        }
        if self.max_pending_samples < self.min_samples_per_update {
            return invalid(
                "online.max_pending_samples",
                format!(
                    "= {} is below online.min_samples_per_update = {}: no update could ever start",
                    self.max_pending_samples, self.min_samples_per_update
                ),
            );
        }
        if self.checkpoint_every.updates == 0 && self.checkpoint_every.interval.is_none() {
            return invalid(
                "online.checkpoint_every",
                "needs `updates` of at least 1 or an `interval`",
            );
        }
        if self
            .checkpoint_every
            .interval
            .is_some_and(|i| i.0.is_zero())
        {
            return invalid("online.checkpoint_every.interval", "must be longer than 0");
        }
        self.quality.check()?;
        if self.update_frequency.0.is_zero() {
            return invalid("online.update_frequency", "must be longer than 0");
        }
        if !(self.cold_start_share.is_finite() && self.cold_start_share > 0.0) {
            return invalid(
                "online.cold_start_share",
                format!("= {} must be finite and positive", self.cold_start_share),
            );
        }
        Ok(())
    }
}

/// `Err` unless a given rate is finite and positive.
pub(crate) fn check_rate(key: &str, rate: Option<f32>) -> Result<(), Invalid> {
    match rate {
        Some(v) if !(v.is_finite() && v > 0.0) => {
            invalid(key, format!("= {v} must be finite and positive"))
        }
        _ => Ok(()),
    }
}

impl LearningRateTable {
    /// Every given rate is finite and positive.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        check_rate("learning_rate.stable", self.stable)?;
        check_rate("learning_rate.moderate", self.moderate)?;
        check_rate("learning_rate.severe", self.severe)
    }
}
