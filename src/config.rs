//! The configuration file (`config.toml`): schema, defaults and validation.
//!
//! Every key has a default, so an empty file is a valid configuration.
//! Unknown keys and invalid values are refused with an error that names the
//! key (and, for syntax errors, the line and column). The repository's
//! `config.toml` documents every key.
//!
//! ```
//! use refit::config::Config;
//! let cfg = Config::from_toml_str(r#"
//!     [model]
//!     kind = "linear"
//!     [model.preprocessing.features.plan]
//!     type = "categorical"
//! "#).unwrap();
//! assert_eq!(cfg.model.task(), refit::plugins::Task::Regression);
//!
//! let err = Config::from_toml_str("[model]\nkinds = \"linear\"").unwrap_err();
//! assert!(err.to_string().contains("unknown field `kinds`"));
//! ```

use std::path::{Path, PathBuf};

use refit_plugin::preprocess::PreprocessConfig;

use crate::drift::{PsiThresholds, Severity};
use refit_plugin::{ModelSpec, Params, Task};
use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// TOML syntax, an unknown key or a value of the wrong type.
    #[error("{origin}: {message}")]
    Parse { origin: String, message: String },
    /// A well-formed value that is not allowed.
    #[error("{origin}: `{key}` {problem}")]
    Invalid {
        origin: String,
        key: String,
        problem: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[agent]`
    pub agent: AgentConfig,
    /// `[model]`
    pub model: ModelConfig,
    /// `[online]`
    pub online: OnlineConfig,
    /// `[learning_rate]`: keys left out take the model kind's table.
    pub learning_rate: LearningRateTable,
    /// `[drift]`
    pub drift: DriftConfig,
    /// `[offline]`
    pub offline: OfflineConfig,
    /// `[retrain]`
    pub retrain: RetrainConfig,
    /// `[samples]`
    pub samples: SamplesConfig,
    /// `[ab]`
    pub ab: AbConfig,
    /// `[serving]`
    pub serving: ServingConfig,
    /// `[http]`
    pub http: HttpConfig,
}

/// `[http]`: the HTTP API of `refit serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on (default `"127.0.0.1:8080"`).
    pub bind: String,
    /// Largest request body in bytes (default 1 MiB).
    pub max_body_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8080".into(),
            max_body_bytes: 1 << 20,
        }
    }
}

/// `[ab]`: A/B tests between the champion and a challenger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AbConfig {
    /// Outcomes each side needs before the guardrail judges (default 1000).
    pub min_samples: usize,
    /// The guardrail demotes a challenger whose AUC is below the
    /// champion's by more than this (regressors: whose MAE is above it by
    /// this share); default 0.02.
    pub margin: f64,
    /// Keyed predictions kept while they wait for their outcome; the
    /// oldest are dropped beyond (default 100000).
    pub max_pending: usize,
}

impl Default for AbConfig {
    fn default() -> Self {
        Self {
            min_samples: 1_000,
            margin: 0.02,
            max_pending: 100_000,
        }
    }
}

/// `[serving]`: what answers predictions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServingConfig {
    /// Weight of the newest offline version in the offline + online
    /// ensemble: answers are `w * offline + (1 - w) * online` (default 0:
    /// the online model alone).
    pub ensemble_offline_weight: f64,
}

impl Default for ServingConfig {
    fn default() -> Self {
        Self {
            ensemble_offline_weight: 0.0,
        }
    }
}

/// `[samples]`: the on-disk log of accepted samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SamplesConfig {
    /// Log every accepted sample (default true). Full retrains need it.
    pub enabled: bool,
    /// A new segment file after this many bytes (default 64 MiB).
    pub segment_bytes: u64,
    /// Drop segments whose samples are all older than this (default "8w").
    pub max_age: Duration,
    /// Drop the oldest segments while the log is larger (default 1 GiB).
    pub max_bytes: u64,
    /// When `ingest` acknowledges (default `none`): see [`Durability`].
    pub durability: Durability,
    /// With `durability = "batch"`: how long a call waits for others to
    /// share its fsync (default "2ms").
    pub group_commit: Duration,
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
            max_age: Duration(std::time::Duration::from_secs(56 * 86_400)),
            max_bytes: 1 << 30,
            durability: Durability::None,
            group_commit: Duration(std::time::Duration::from_millis(2)),
        }
    }
}

impl Config {
    /// The sample log's directory: `<data_dir>/samples/<name>`.
    pub fn samples_dir(&self) -> std::path::PathBuf {
        self.agent.data_dir.join("samples").join(&self.agent.name)
    }
}

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
    pub full_every: Duration,
    /// Retrain when the online metric over the last `online.metric window`
    /// samples is worse than the active offline version's holdout metric by
    /// more than this (AUC for classifiers; relative MAE for regressors);
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
    pub degradation_cooldown: Duration,
}

impl Default for RetrainConfig {
    fn default() -> Self {
        Self {
            full_every: Duration(std::time::Duration::from_secs(28 * 86_400)),
            degradation_margin: 0.05,
            min_samples: 2_000,
            max_rows: 100_000,
            degradation_cooldown: Duration(std::time::Duration::from_secs(3_600)),
        }
    }
}

/// A duration written as `"90s"`, `"15m"`, `"1h"`, `"1d"`, `"4w"` (or
/// `"hourly"`, `"daily"`, `"weekly"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(pub std::time::Duration);

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let secs = |n: u64| Ok(Duration(std::time::Duration::from_secs(n)));
        match s.trim() {
            "hourly" => secs(3_600),
            "daily" => secs(86_400),
            "weekly" => secs(7 * 86_400),
            other => humantime::parse_duration(other).map(Duration).map_err(|e| {
                format!("`{other}` is not a duration like \"30s\", \"1h\", \"4w\": {e}")
            }),
        }
    }
}

impl Serialize for Duration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(self.0).to_string())
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

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
    pub update_frequency: Duration,
    /// Rows per `partial_fit` step inside an update (default 256).
    pub batch_size: usize,
    /// Online checkpoints kept (default 5).
    pub checkpoint_retention: usize,
    /// Accepted samples not yet trained on, at most (default 100000).
    pub max_pending_samples: usize,
    /// `"error"` (default) or `"wait"` when that bound is reached.
    pub when_full: WhenFull,
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
            update_frequency: Duration(std::time::Duration::from_secs(3_600)),
            batch_size: 256,
            checkpoint_retention: 5,
            max_pending_samples: 100_000,
            when_full: WhenFull::Error,
        }
    }
}

pub use refit_plugin::LearningRates;

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

/// `[drift]`: data-drift measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DriftConfig {
    /// Max PSI above this is moderate drift (default 0.15).
    pub psi_moderate: f64,
    /// Max PSI above this is severe drift (default 0.3).
    pub psi_severe: f64,
    /// Quantile bins per feature (default 10).
    pub bins: usize,
    /// Recent samples compared with the reference (default 5000).
    pub window: usize,
    /// The first this many samples form the reference (default 5000).
    pub reference_size: usize,
    /// Floor for an empty bin's share (default 1e-4).
    pub empty_bin_floor: f64,
    /// After this many consecutive drift reports above `psi_moderate`, the
    /// reference is re-based on the current window: the model has been
    /// learning from the new distribution at the raised rate, which becomes
    /// the new normal (default 4; 0 never re-bases).
    pub rebase_after: usize,
    /// How the current window moves (default sliding).
    pub window_mode: WindowMode,
    /// Also run the two-sample Kolmogorov-Smirnov test per numeric feature
    /// (reported, does not change the severity; default false).
    pub ks: bool,
    /// Concept drift on the loss stream (`[drift.concept]`).
    pub concept: crate::drift::ConceptConfig,
}

impl DriftConfig {
    /// The severity of a PSI value under these thresholds.
    ///
    /// ```
    /// use refit::{Severity, config::DriftConfig};
    /// let c = DriftConfig::default();
    /// assert_eq!(c.psi_severity(0.15), Severity::Stable); // "above" is strict
    /// assert_eq!(c.psi_severity(0.2), Severity::Moderate);
    /// assert_eq!(c.psi_severity(0.31), Severity::Severe);
    /// ```
    pub fn psi_severity(&self, psi: f64) -> Severity {
        Severity::from_psi(psi, &self.thresholds())
    }

    /// The PSI thresholds of the severities.
    pub fn thresholds(&self) -> PsiThresholds {
        PsiThresholds {
            moderate: self.psi_moderate,
            severe: self.psi_severe,
        }
    }

    /// The fewest window samples whose PSI raises the severity: 20 per bin
    /// (at most the whole window). The PSI of `n` samples drawn from the
    /// reference itself is about `(bins - 1) / n` (a chi-square over `n`),
    /// so a window of a few dozen samples, as right after the reference
    /// completes or is re-based, would cross the thresholds by chance; at
    /// 20 per bin that noise is about 0.05.
    ///
    /// ```
    /// let c = refit::config::DriftConfig::default();
    /// assert_eq!(c.min_psi_window(), 200);
    /// ```
    pub fn min_psi_window(&self) -> usize {
        self.window.min(20 * self.bins)
    }
}

/// How the drift window moves.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowMode {
    /// The last `window` samples, one in, one out.
    #[default]
    Sliding,
    /// Consecutive blocks of `window` samples; a full block starts over.
    Tumbling,
}

impl Default for DriftConfig {
    fn default() -> Self {
        Self {
            psi_moderate: 0.15,
            psi_severe: 0.3,
            bins: 10,
            window: 5000,
            reference_size: 5000,
            empty_bin_floor: 1e-4,
            rebase_after: 4,
            window_mode: WindowMode::Sliding,
            ks: false,
            concept: crate::drift::ConceptConfig::default(),
        }
    }
}

/// `[agent]`: identity and storage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// The model's name, used in file names (default `"churn"`).
    pub name: String,
    /// Directory under which `models/` is kept (default `"."`).
    pub data_dir: PathBuf,
    /// Start of the version files' names when it differs from `name`
    /// (e.g. `"ctr_model"`: `models/ctr_online/ctr_model_online_001.refit`);
    /// default: `name`.
    pub file_prefix: Option<String>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            name: "churn".into(),
            data_dir: PathBuf::from("."),
            file_prefix: None,
        }
    }
}

/// `[model]`: which plugin, for which task and features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ModelConfig {
    /// Plugin kind: `"logistic"`, `"linear"`, `"mlp"` or a host's own
    /// (default `"logistic"`).
    pub kind: String,
    /// `"classification"` or `"regression"`; by default the kind's own
    /// (`logistic` and `mlp`: classification, `linear`: regression).
    pub task: Option<Task>,
    /// Feature names in column order; empty means "as the data names them"
    /// (the demo stream or the CSV header).
    pub features: Vec<String>,
    /// Plugin hyper-parameters (`[model.params]`), checked by the plugin.
    pub params: toml::Table,
    /// `[model.preprocessing]`: standardisation, categorical features,
    /// missing values, with per-feature overrides.
    pub preprocessing: PreprocessConfig,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            kind: "logistic".into(),
            task: None,
            features: Vec::new(),
            params: toml::Table::new(),
            preprocessing: PreprocessConfig::default(),
        }
    }
}

impl ModelConfig {
    /// The task: the configured one, else the kind's default.
    pub fn task(&self) -> Task {
        self.task.unwrap_or(match self.kind.as_str() {
            "linear" => Task::Regression,
            // logistic, mlp, ftrl (click-through rates) and hosts' own kinds
            _ => Task::Classification,
        })
    }

    /// The spec for `features` (the configured names win when given).
    pub fn spec(&self, data_features: &[String]) -> ModelSpec {
        let features = if self.features.is_empty() {
            data_features.to_vec()
        } else {
            self.features.clone()
        };
        ModelSpec::new(self.kind.clone(), self.task(), features)
    }

    /// The plugin parameters: `[model.params]` plus the preprocessing table
    /// under the key `preprocessing`.
    pub fn plugin_params(&self) -> Result<Params, ConfigError> {
        let invalid = |problem: String| ConfigError::Invalid {
            origin: "config".into(),
            key: "model.params".into(),
            problem,
        };
        let value = serde_json::to_value(&self.params).map_err(|e| invalid(e.to_string()))?;
        let serde_json::Value::Object(mut params) = value else {
            return Err(invalid("must be a table".into()));
        };
        if params.contains_key("preprocessing") {
            return Err(invalid(
                "must not hold `preprocessing`: use the [model.preprocessing] table".into(),
            ));
        }
        params.insert(
            "preprocessing".into(),
            serde_json::to_value(&self.preprocessing).map_err(|e| invalid(e.to_string()))?,
        );
        Ok(params)
    }
}

impl Config {
    /// The learning rates in force: `[learning_rate]` over the table of the
    /// configured kind in `plugins` (an unknown kind is an error naming
    /// `model.kind`).
    ///
    /// ```
    /// use refit::config::Config;
    /// let mut c = Config::default();
    /// c.learning_rate.severe = Some(0.9);
    /// let rates = c.learning_rates(&refit::plugins::builtin()).unwrap();
    /// // The logistic kind's AdaGrad table, with the configured severe rate.
    /// assert_eq!((rates.stable, rates.severe), (0.1, 0.9));
    /// ```
    pub fn learning_rates(
        &self,
        plugins: &refit_plugin::PluginRegistry,
    ) -> Result<LearningRates, ConfigError> {
        let factory = plugins
            .get(&self.model.kind)
            .map_err(|e| ConfigError::Invalid {
                origin: "config".into(),
                key: "model.kind".into(),
                problem: e.to_string(),
            })?;
        Ok(self
            .learning_rate
            .resolve(factory.learning_rates(&self.model.plugin_params()?)))
    }

    /// Parses and validates TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        Self::parse(text, "config")
    }

    /// Reads, parses and validates a file.
    pub fn from_path(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let cfg: Config = toml::from_str(text).map_err(|e| ConfigError::Parse {
            origin: origin.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        cfg.validate(origin)?;
        Ok(cfg)
    }

    /// Checks values that parse but are not allowed.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        let invalid = |key: &str, problem: String| {
            Err(ConfigError::Invalid {
                origin: origin.to_owned(),
                key: key.to_owned(),
                problem,
            })
        };
        let file_safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        let name = &self.agent.name;
        if !file_safe(name) {
            return invalid(
                "agent.name",
                format!("= {name:?}: use letters, digits, `_` and `-` (it names files)"),
            );
        }
        if let Some(prefix) = &self.agent.file_prefix
            && !file_safe(prefix)
        {
            return invalid(
                "agent.file_prefix",
                format!("= {prefix:?}: use letters, digits, `_` and `-` (it names files)"),
            );
        }
        let o = &self.online;
        for (key, v) in [
            ("online.min_samples_per_update", o.min_samples_per_update),
            ("online.batch_size", o.batch_size),
            ("online.checkpoint_retention", o.checkpoint_retention),
        ] {
            if v == 0 {
                return invalid(key, "must be at least 1".into());
            }
        }
        if o.max_pending_samples < o.min_samples_per_update {
            return invalid(
                "online.max_pending_samples",
                format!(
                    "= {} is below online.min_samples_per_update = {}: no update could ever start",
                    o.max_pending_samples, o.min_samples_per_update
                ),
            );
        }
        if o.update_frequency.0.is_zero() {
            return invalid("online.update_frequency", "must be longer than 0".into());
        }
        let lr = &self.learning_rate;
        for (key, v) in [
            ("learning_rate.stable", lr.stable),
            ("learning_rate.moderate", lr.moderate),
            ("learning_rate.severe", lr.severe),
            ("offline.learning_rate", self.offline.learning_rate),
        ] {
            if let Some(v) = v
                && !(v.is_finite() && v > 0.0)
            {
                return invalid(key, format!("= {v} must be finite and positive"));
            }
        }
        if o.first_update == 0 {
            return invalid("online.first_update", "must be at least 1".into());
        }
        if !(o.cold_start_share.is_finite() && o.cold_start_share > 0.0) {
            return invalid(
                "online.cold_start_share",
                format!("= {} must be finite and positive", o.cold_start_share),
            );
        }
        let d = &self.drift;
        if !(d.psi_moderate > 0.0 && d.psi_moderate.is_finite()) {
            return invalid(
                "drift.psi_moderate",
                format!("= {} must be positive", d.psi_moderate),
            );
        }
        if !(d.psi_severe > d.psi_moderate && d.psi_severe.is_finite()) {
            return invalid(
                "drift.psi_severe",
                format!(
                    "= {} must be above drift.psi_moderate = {}",
                    d.psi_severe, d.psi_moderate
                ),
            );
        }
        if d.bins < 2 {
            return invalid("drift.bins", "must be at least 2".into());
        }
        if d.window == 0 || d.reference_size == 0 {
            return invalid(
                "drift.window",
                "and drift.reference_size must be at least 1".into(),
            );
        }
        if !(d.empty_bin_floor > 0.0 && d.empty_bin_floor < 1.0) {
            return invalid("drift.empty_bin_floor", "must be between 0 and 1".into());
        }
        if let Err((key, problem)) = d.concept.check() {
            return invalid(&key, problem);
        }
        let off = &self.offline;
        if off.epochs == 0 || off.batch_size == 0 {
            return invalid(
                "offline.epochs",
                "and offline.batch_size must be at least 1".into(),
            );
        }
        if !(off.holdout >= 0.0 && off.holdout < 1.0) {
            return invalid(
                "offline.holdout",
                format!("= {} must be in [0, 1)", off.holdout),
            );
        }
        let r = &self.retrain;
        if r.full_every.0.is_zero() {
            return invalid("retrain.full_every", "must be longer than 0".into());
        }
        if !(r.degradation_margin.is_finite() && r.degradation_margin >= 0.0) {
            return invalid(
                "retrain.degradation_margin",
                format!("= {} must be finite and >= 0", r.degradation_margin),
            );
        }
        if r.max_rows == 0 {
            return invalid("retrain.max_rows", "must be at least 1".into());
        }
        if !(self.ab.margin.is_finite() && self.ab.margin >= 0.0) {
            return invalid(
                "ab.margin",
                format!("= {} must be finite and >= 0", self.ab.margin),
            );
        }
        if self.ab.max_pending == 0 {
            return invalid("ab.max_pending", "must be at least 1".into());
        }
        let w = self.serving.ensemble_offline_weight;
        if !(0.0..=1.0).contains(&w) {
            return invalid(
                "serving.ensemble_offline_weight",
                format!("= {w} must be in [0, 1]"),
            );
        }
        if self.samples.segment_bytes == 0 {
            return invalid("samples.segment_bytes", "must be at least 1".into());
        }
        if self.samples.durability != Durability::None && !self.samples.enabled {
            return invalid(
                "samples.durability",
                "needs samples.enabled = true (the sample log is what is made durable)".into(),
            );
        }
        if self.samples.group_commit.0 > std::time::Duration::from_secs(1) {
            return invalid(
                "samples.group_commit",
                "must be at most 1s (acknowledgements wait for it)".into(),
            );
        }
        if self.model.kind.is_empty() {
            return invalid("model.kind", "must name a plugin".into());
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self
            .model
            .features
            .iter()
            .find(|f| !seen.insert(f.as_str()))
        {
            return invalid("model.features", format!("lists `{dup}` twice"));
        }
        if !self.model.features.is_empty()
            && let Some(unknown) = self
                .model
                .preprocessing
                .features
                .keys()
                .find(|k| !self.model.features.contains(k))
        {
            return invalid(
                &format!("model.preprocessing.features.{unknown}"),
                "is not one of model.features".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_all_defaults() {
        assert_eq!(Config::from_toml_str("").unwrap(), Config::default());
    }

    #[test]
    fn shipped_config_parses_and_equals_the_defaults() {
        let text = include_str!("../config.toml");
        assert_eq!(Config::from_toml_str(text).unwrap(), Config::default());
    }

    #[test]
    fn errors_name_the_key() {
        let err = Config::from_toml_str("[agent]\nname = \"a b\"").unwrap_err();
        assert!(err.to_string().contains("`agent.name`"), "{err}");
        let err = Config::from_toml_str("[model.preprocessing]\nstandardise = true").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `standardise`"),
            "{err}"
        );
        assert!(err.to_string().contains("line 2"), "{err}");
        let err = Config::from_toml_str(
            "[model]\nfeatures = [\"a\"]\n[model.preprocessing.features.b]\ntype = \"categorical\"",
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("model.preprocessing.features.b"),
            "{err}"
        );
        let err = Config::from_toml_str("[online]\nupdate_frequency = \"soon\"").unwrap_err();
        assert!(
            err.to_string().contains("`soon` is not a duration"),
            "{err}"
        );
        let err = Config::from_toml_str("[drift]\npsi_severe = 0.1").unwrap_err();
        assert!(err.to_string().contains("`drift.psi_severe`"), "{err}");
        let err = Config::from_toml_str("[learning_rate]\nsevere = -1.0").unwrap_err();
        assert!(err.to_string().contains("`learning_rate.severe`"), "{err}");
        let cfg = Config::from_toml_str("[online]\nupdate_frequency = \"4w\"").unwrap();
        assert_eq!(cfg.online.update_frequency.0.as_secs(), 28 * 86_400);
        let err = Config::from_toml_str("[model]\ntask = \"ranking\"").unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `ranking`"),
            "{err}"
        );
    }

    #[test]
    fn params_carry_the_preprocessing_table() {
        let cfg = Config::from_toml_str(
            "[model]\nkind = \"mlp\"\n[model.params]\nhidden = [8, 4]\n[model.preprocessing]\nstandardize = false",
        )
        .unwrap();
        let params = cfg.model.plugin_params().unwrap();
        assert_eq!(params["hidden"], serde_json::json!([8, 4]));
        assert_eq!(
            params["preprocessing"]["standardize"],
            serde_json::json!(false)
        );
        let model = crate::plugins::builtin()
            .create(cfg.model.spec(&["a".into()]), &params)
            .unwrap();
        assert_eq!(model.spec().kind, "mlp");
    }
}
