use std::collections::BTreeMap;
use std::sync::Arc;

use crate::{LearningRates, Model, ModelSpec, PluginError, Task, envelope};

/// Plugin hyper-parameters, as given in the `[model.params]` table of the
/// config. Each plugin deserialises its own typed struct from it and names
/// any key it does not know.
pub type Params = serde_json::Map<String, serde_json::Value>;

/// Builds and loads models of one kind.
pub trait PluginFactory: Send + Sync {
    /// The kind name this factory answers to, e.g. `"logistic"`.
    fn kind(&self) -> &str;

    /// A fresh model for `spec` with the given hyper-parameters.
    fn create(&self, spec: ModelSpec, params: &Params) -> Result<Box<dyn Model>, PluginError>;

    /// A model from bytes that one of this factory's models saved.
    fn load(&self, bytes: &[u8]) -> Result<Box<dyn Model>, PluginError>;

    /// The task a model of this kind serves when the config names none. By
    /// default [`Task::Classification`].
    fn default_task(&self) -> Task {
        Task::Classification
    }

    /// The learning rates a model made with `params` learns well with, by
    /// drift severity: the agent uses them for every `[learning_rate]` key
    /// the config leaves out. By default [`LearningRates::SGD`].
    fn learning_rates(&self, params: &Params) -> LearningRates {
        let _ = params;
        LearningRates::SGD
    }
}

/// Maps kind names to factories. The agent starts from the built-in set; a
/// host registers its own plugins next to them.
#[derive(Default, Clone)]
pub struct PluginRegistry {
    factories: BTreeMap<String, Arc<dyn PluginFactory>>,
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a factory; a kind can be registered once.
    pub fn register(&mut self, factory: Arc<dyn PluginFactory>) -> Result<(), PluginError> {
        let kind = factory.kind().to_owned();
        if self.factories.contains_key(&kind) {
            return Err(PluginError::DuplicateKind(kind));
        }
        self.factories.insert(kind, factory);
        Ok(())
    }

    /// The registered kind names, sorted.
    pub fn kinds(&self) -> Vec<&str> {
        self.factories.keys().map(String::as_str).collect()
    }

    /// The factory for `kind`.
    pub fn get(&self, kind: &str) -> Result<&Arc<dyn PluginFactory>, PluginError> {
        self.factories
            .get(kind)
            .ok_or_else(|| PluginError::UnknownKind {
                kind: kind.to_owned(),
                registered: self.kinds().join(", "),
            })
    }

    /// A fresh model of `spec.kind`.
    pub fn create(&self, spec: ModelSpec, params: &Params) -> Result<Box<dyn Model>, PluginError> {
        self.get(&spec.kind)?.create(spec, params)
    }

    /// Loads saved bytes with the plugin named in their header.
    pub fn load(&self, bytes: &[u8]) -> Result<Box<dyn Model>, PluginError> {
        let (header, _) = envelope::decode(bytes)?;
        self.get(&header.kind)?.load(bytes)
    }
}

impl std::fmt::Debug for PluginRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginRegistry")
            .field("kinds", &self.kinds())
            .finish()
    }
}

/// Deserialises a plugin's typed parameters from [`Params`], turning an
/// unknown key or a wrong type into [`PluginError::InvalidParams`] that names
/// it. Use `#[serde(deny_unknown_fields)]` on `T`.
///
/// ```
/// #[derive(serde::Deserialize, Debug)]
/// #[serde(deny_unknown_fields)]
/// struct P { #[serde(default)] l2: f32 }
/// let mut params = refit_plugin::Params::new();
/// params.insert("l3".into(), 0.1.into());
/// let err = refit_plugin::parse_params::<P>("logistic", &params).unwrap_err();
/// assert!(err.to_string().contains("unknown field `l3`"));
/// ```
pub fn parse_params<T: serde::de::DeserializeOwned>(
    kind: &str,
    params: &Params,
) -> Result<T, PluginError> {
    serde_json::from_value(serde_json::Value::Object(params.clone()))
        .map_err(|e| PluginError::InvalidParams(format!("[model.params] of `{kind}`: {e}")))
}
