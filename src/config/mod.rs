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

mod duration;
mod fleet;
mod model;
mod offline;
mod online;
mod quality;
mod samples;
mod serving;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use crate::drift::{DriftConfig, WindowMode};
pub use duration::HumanDuration;
pub use fleet::{FleetConfig, OnUnavailable};
pub use model::{AgentConfig, ModelConfig};
pub use offline::{OfflineConfig, RetrainConfig};
pub use online::{CheckpointEvery, LearningRateTable, LearningRates, OnlineConfig, WhenFull};
pub use quality::QualityChecks;
pub use samples::{Durability, SamplesConfig};
pub use serving::{AbConfig, FeedbackConfig, HttpConfig, ServingConfig};

/// A refused value: the key (`section.key`) and what is wrong with it.
pub(crate) type Invalid = (String, String);

/// `Err` naming `key` and the `problem`.
pub(crate) fn invalid(key: &str, problem: impl Into<String>) -> Result<(), Invalid> {
    Err((key.to_owned(), problem.into()))
}

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
    /// `[feedback]`
    pub feedback: FeedbackConfig,
    /// `[http]`
    pub http: HttpConfig,
    /// `[fleet]`: one replica of a fleet on NATS JetStream (none: alone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetConfig>,
}

impl Config {
    /// The sample log's directory: `<data_dir>/samples/<name>`.
    pub fn samples_dir(&self) -> std::path::PathBuf {
        self.agent.data_dir.join("samples").join(&self.agent.name)
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
        Ok(self
            .learning_rate
            .resolve(self.kind_learning_rates(plugins)?))
    }

    /// The table of the configured kind (with its `[model.params]`) in
    /// `plugins`, before `[learning_rate]` overrides any key.
    pub fn kind_learning_rates(
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
        Ok(factory.learning_rates(&self.model.plugin_params()?))
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

    /// Checks values that parse but are not allowed: each section checks
    /// its own keys.
    pub fn validate(&self, origin: &str) -> Result<(), ConfigError> {
        self.agent
            .check()
            .and_then(|()| self.model.check())
            .and_then(|()| self.online.check())
            .and_then(|()| self.learning_rate.check())
            .and_then(|()| self.drift.check())
            .and_then(|()| self.offline.check())
            .and_then(|()| self.retrain.check())
            .and_then(|()| self.ab.check())
            .and_then(|()| self.serving.check())
            .and_then(|()| self.feedback.check())
            .and_then(|()| self.samples.check())
            .and_then(|()| self.fleet.as_ref().map_or(Ok(()), FleetConfig::check))
            .map_err(|(key, problem)| ConfigError::Invalid {
                origin: origin.to_owned(),
                key,
                problem,
            })
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
        let text = include_str!("../../config.toml");
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
