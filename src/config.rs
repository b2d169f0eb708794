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
    /// `[learning_rate]`
    pub learning_rate: LearningRates,
    /// `[drift]`
    pub drift: DriftConfig,
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

impl Default for OnlineConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            min_samples_per_update: 1000,
            update_frequency: Duration(std::time::Duration::from_secs(3_600)),
            batch_size: 256,
            checkpoint_retention: 5,
            max_pending_samples: 100_000,
            when_full: WhenFull::Error,
        }
    }
}

/// `[learning_rate]`: the learning rate for each drift severity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LearningRates {
    /// No significant drift (default 0.001).
    pub stable: f32,
    /// Moderate drift (default 0.01).
    pub moderate: f32,
    /// Severe drift (default 0.05).
    pub severe: f32,
}

impl Default for LearningRates {
    fn default() -> Self {
        Self {
            stable: 0.001,
            moderate: 0.01,
            severe: 0.05,
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
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            name: "churn".into(),
            data_dir: PathBuf::from("."),
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
        let name = &self.agent.name;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return invalid(
                "agent.name",
                format!("= {name:?}: use letters, digits, `_` and `-` (it names files)"),
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
        ] {
            if !(v.is_finite() && v > 0.0) {
                return invalid(key, format!("= {v} must be finite and positive"));
            }
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
