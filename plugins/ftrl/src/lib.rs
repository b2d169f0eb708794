//! `refit-ftrl`: sparse hashed logistic regression for click-through rates.
//!
//! The model takes [`SparseBatch`](refit_plugin::SparseBatch)es over
//! `2^bits` hashed coordinates (its [`refit_plugin::Model::input`] is
//! [`refit_plugin::InputKind::Sparse`]) and learns with
//! FTRL-Proximal (McMahan et al., "Ad Click Prediction: a View from the
//! Trenches", KDD 2013, Algorithm 1: per-coordinate adaptive rates, L1 and
//! L2) or with plain SGD at the agent's drift-driven learning rate. Its
//! memory is `2^bits + 1` coordinates whatever the data; the serving
//! snapshot shares the weights in copy-on-write chunks, so taking one after
//! every update costs microseconds.

mod model;
mod weights;

use std::sync::Arc;

use refit_plugin::{Model, ModelSpec, Params, PluginError, PluginFactory, parse_params};

pub use model::{FORMAT_VERSION, FtrlModel, FtrlParams, FtrlPredictor, KIND, Mode};
pub use weights::ChunkedWeights;

/// The factory of `kind = "ftrl"`.
///
/// ```
/// use refit_plugin::{ModelSpec, Params, PluginRegistry, Task, InputKind};
/// let mut registry = PluginRegistry::new();
/// registry.register(std::sync::Arc::new(refit_ftrl::FtrlFactory)).unwrap();
/// let spec = ModelSpec::new("ftrl", Task::Classification, Vec::<String>::new());
/// let model = registry.create(spec, &Params::new()).unwrap();
/// assert_eq!(model.input(), InputKind::Sparse);
/// assert_eq!(registry.load(&model.save().unwrap()).unwrap().input(), InputKind::Sparse);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FtrlFactory;

impl PluginFactory for FtrlFactory {
    fn kind(&self) -> &str {
        KIND
    }

    fn create(&self, spec: ModelSpec, params: &Params) -> Result<Box<dyn Model>, PluginError> {
        // The agent passes its `[model.preprocessing]` table to every
        // plugin; it describes named dense features, which hashed rows do
        // not have.
        let mut params = params.clone();
        params.remove("preprocessing");
        let params: FtrlParams = parse_params(KIND, &params)?;
        Ok(Box::new(FtrlModel::new(spec, params)?))
    }

    fn load(&self, bytes: &[u8]) -> Result<Box<dyn Model>, PluginError> {
        Ok(Box::new(FtrlModel::load(bytes)?))
    }
}

/// The factory, shared.
pub fn factory() -> Arc<dyn PluginFactory> {
    Arc::new(FtrlFactory)
}
