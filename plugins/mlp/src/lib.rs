//! `refit-mlp`: a multi-layer perceptron plugin for refit, trained with Burn
//! autodiff (SGD or Adam), for classification and regression.
//!
//! ```
//! use refit_plugin::{ModelSpec, Params, PluginRegistry, Task};
//! let mut registry = PluginRegistry::new();
//! refit_mlp::register(&mut registry).unwrap();
//! let mut params = Params::new();
//! params.insert("hidden".into(), serde_json::json!([16, 8]));
//! let spec = ModelSpec::new("mlp", Task::Classification, ["a", "b"]);
//! let model = registry.create(spec, &params).unwrap();
//! let p = model.snapshot().predict_row((&[0.5, -0.5]).into()).unwrap();
//! assert!(p > 0.0 && p < 1.0);
//! ```

mod model;
mod net;
mod snapshot;

use std::sync::Arc;

use refit_plugin::{
    LearningRates, Model, ModelSpec, Params, PluginError, PluginFactory, PluginRegistry,
    parse_params,
};
use refit_plugin_kit::multiclass::{OneVsRest, is_saved_multiclass};

pub use model::{FORMAT_VERSION, MlpModel, MlpParams, Optimizer, default_device};
pub use snapshot::MlpSnapshot;

/// The `"mlp"` factory.
#[derive(Debug, Clone, Copy, Default)]
pub struct MlpFactory;

impl PluginFactory for MlpFactory {
    fn kind(&self) -> &str {
        "mlp"
    }

    fn create(&self, spec: ModelSpec, params: &Params) -> Result<Box<dyn Model>, PluginError> {
        let params: MlpParams = parse_params("mlp", params)?;
        if spec.is_multiclass() {
            // One-vs-rest over binary networks (see `refit_plugin_kit::multiclass`).
            return Ok(Box::new(OneVsRest::new(spec, |binary| {
                MlpModel::new(binary, params.clone())
            })?));
        }
        Ok(Box::new(MlpModel::new(spec, params)?))
    }

    fn load(&self, bytes: &[u8]) -> Result<Box<dyn Model>, PluginError> {
        if is_saved_multiclass(bytes) {
            return Ok(Box::new(OneVsRest::load(bytes, "mlp", MlpModel::load)?));
        }
        Ok(Box::new(MlpModel::load(bytes)?))
    }

    /// [`MlpParams::learning_rates`] of the configured parameters;
    /// parameters that do not parse fall back to the defaults' (creating
    /// the model names the problem).
    fn learning_rates(&self, params: &Params) -> LearningRates {
        parse_params::<MlpParams>("mlp", params)
            .unwrap_or_default()
            .learning_rates()
    }
}

/// Registers `"mlp"`.
pub fn register(registry: &mut PluginRegistry) -> Result<(), PluginError> {
    registry.register(Arc::new(MlpFactory))
}
