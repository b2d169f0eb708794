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
