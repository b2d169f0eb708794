//! `[agent]` and `[model]`: names, paths, the plugin, its task and
//! features.

use std::path::PathBuf;

use refit_plugin::{ModelSpec, Params, PluginRegistry, Task};
use refit_plugin_kit::preprocess::PreprocessConfig;
use serde::{Deserialize, Serialize};

use super::{ConfigError, Invalid, invalid};

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
    /// Class names of a classifier in label order (label `i` is
    /// `classes[i]`); empty: learned from the data that fixes the schema
    /// (the CSV's label column, the first named samples), or labels 0/1.
    /// More than two make the model multiclass.
    pub classes: Vec<String>,
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
            classes: Vec::new(),
            params: toml::Table::new(),
            preprocessing: PreprocessConfig::default(),
        }
    }
}

impl ModelConfig {
    /// The task: the configured one, else the default task of the kind's
    /// factory among the built-in plugins ([`Self::task_in`] for a host's
    /// own registry).
    pub fn task(&self) -> Task {
        self.task_in(&crate::plugins::builtin())
    }

    /// The task: the configured one, else the default task of the kind's
    /// factory in `plugins` (classification for a kind it does not know:
    /// starting the agent names that problem).
    ///
    /// ```
    /// let mut m = refit::config::ModelConfig::default();
    /// m.kind = "linear".into();
    /// assert_eq!(m.task(), refit::plugins::Task::Regression);
    /// ```
    pub fn task_in(&self, plugins: &PluginRegistry) -> Task {
        self.task.unwrap_or_else(|| {
            plugins
                .get(&self.kind)
                .map_or(Task::Classification, |f| f.default_task())
        })
    }

    /// The spec for `features` (the configured names win when given), its
    /// task from `plugins` when the config names none, its categorical
    /// features from `[model.preprocessing.features]` and its classes from
    /// `classes`.
    pub fn spec_in(&self, data_features: &[String], plugins: &PluginRegistry) -> ModelSpec {
        let features = if self.features.is_empty() {
            data_features.to_vec()
        } else {
            self.features.clone()
        };
        let categorical: Vec<String> = features
            .iter()
            .filter(|f| self.is_categorical(f))
            .cloned()
            .collect();
        ModelSpec::new(self.kind.clone(), self.task_in(plugins), features)
            .with_categorical(categorical)
            .with_classes(self.classes.clone())
    }

    /// Whether `[model.preprocessing.features.NAME]` declares the feature
    /// categorical.
    pub fn is_categorical(&self, name: &str) -> bool {
        self.preprocessing.features.get(name).and_then(|o| o.kind)
            == Some(refit_plugin_kit::preprocess::FeatureType::Categorical)
    }

    /// The schema this config fixes: its features, the categorical ones
    /// and its classes.
    pub fn fixed_schema(&self) -> crate::schema::Inferred {
        crate::schema::Inferred {
            features: self.features.clone(),
            categorical: self
                .features
                .iter()
                .filter(|f| self.is_categorical(f))
                .cloned()
                .collect(),
            classes: self.classes.clone(),
        }
    }

    /// Fixes the schema from data where the config leaves it open: the
    /// features (when none are listed), the categorical ones (unless a
    /// feature's type is configured) and the classes (when none are
    /// declared).
    pub fn adopt(&mut self, schema: &crate::schema::Inferred) {
        use refit_plugin_kit::preprocess::FeatureType;
        if self.features.is_empty() {
            self.features = schema.features.clone();
        }
        for name in &schema.categorical {
            let o = self.preprocessing.features.entry(name.clone()).or_default();
            if o.kind.is_none() {
                o.kind = Some(FeatureType::Categorical);
            }
        }
        if self.classes.is_empty() {
            self.classes = schema.classes.clone();
        }
    }

    /// [`Self::spec_in`] among the built-in plugins.
    pub fn spec(&self, data_features: &[String]) -> ModelSpec {
        self.spec_in(data_features, &crate::plugins::builtin())
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

impl AgentConfig {
    /// Names that become file names: letters, digits, `_` and `-`.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        let file_safe = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !file_safe(&self.name) {
            return invalid(
                "agent.name",
                format!(
                    "= {:?}: use letters, digits, `_` and `-` (it names files)",
                    self.name
                ),
            );
        }
        if let Some(prefix) = &self.file_prefix
            && !file_safe(prefix)
        {
            return invalid(
                "agent.file_prefix",
                format!("= {prefix:?}: use letters, digits, `_` and `-` (it names files)"),
            );
        }
        Ok(())
    }
}

impl ModelConfig {
    /// A kind is named; features are listed once; per-feature overrides
    /// name listed features.
    pub(crate) fn check(&self) -> Result<(), Invalid> {
        if self.kind.is_empty() {
            return invalid("model.kind", "must name a plugin");
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.features.iter().find(|f| !seen.insert(f.as_str())) {
            return invalid("model.features", format!("lists `{dup}` twice"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = self.classes.iter().find(|c| !seen.insert(c.as_str())) {
            return invalid("model.classes", format!("lists `{dup}` twice"));
        }
        if self.classes.len() == 1 {
            return invalid("model.classes", "needs at least two classes");
        }
        if !self.features.is_empty()
            && let Some(unknown) = self
                .preprocessing
                .features
                .keys()
                .find(|k| !self.features.contains(k))
        {
            return invalid(
                &format!("model.preprocessing.features.{unknown}"),
                "is not one of model.features",
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use refit_plugin::{Model, PluginError, PluginFactory};

    use super::*;

    /// A host's regression kind: only its name and default task matter.
    struct Forecast;

    impl PluginFactory for Forecast {
        fn kind(&self) -> &str {
            "forecast"
        }
        fn create(&self, _: ModelSpec, _: &Params) -> Result<Box<dyn Model>, PluginError> {
            Err(PluginError::InvalidParams("not built in this test".into()))
        }
        fn load(&self, _: &[u8]) -> Result<Box<dyn Model>, PluginError> {
            Err(PluginError::InvalidParams("not built in this test".into()))
        }
        fn default_task(&self) -> Task {
            Task::Regression
        }
    }

    #[test]
    fn the_task_comes_from_the_kinds_factory_unless_configured() {
        let mut m = ModelConfig::default();
        for (kind, task) in [
            ("logistic", Task::Classification),
            ("linear", Task::Regression),
            ("mlp", Task::Classification),
            ("ftrl", Task::Classification),
        ] {
            m.kind = kind.into();
            assert_eq!(m.task(), task, "{kind}");
        }
        let mut plugins = crate::plugins::builtin();
        plugins.register(Arc::new(Forecast)).unwrap();
        m.kind = "forecast".into();
        assert_eq!(m.task_in(&plugins), Task::Regression);
        assert_eq!(m.spec_in(&["x".into()], &plugins).task, Task::Regression);
        m.task = Some(Task::Classification);
        assert_eq!(m.task_in(&plugins), Task::Classification);
    }
}
