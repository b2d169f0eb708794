//! `refit-linear`: logistic and linear regression for refit, on Burn tensors.
//!
//! Two plugin kinds share one model type, [`LinearModel`]:
//! - `"logistic"`: classification, log loss, predictions are P(class 1);
//! - `"linear"`: regression, squared error.
//!
//! Training uses the analytic gradient (no autodiff: it is several times
//! faster for a linear model) and optional L2, with AdaGrad's
//! per-coordinate steps ([`Optimizer::Adagrad`], the default) or constant
//! SGD ([`Optimizer::Sgd`]), either one step per row ([`Update::PerSample`],
//! the default; with constant SGD it is scikit-learn's `partial_fit`
//! whatever the batch size) or one step per batch on the mean gradient with
//! Burn tensors ([`Update::MiniBatch`]). Regressors learn on standardised
//! labels and answer in label units (`scale_label`).
//! The learning rate is an argument of every
//! [`partial_fit`](refit_plugin::Model::partial_fit) call, so the agent can
//! change it from drift severity between batches. The serving snapshot
//! ([`LinearSnapshot`]) predicts one row with a plain dot product.
//!
//! Register both kinds with [`register`]:
//!
//! ```
//! use refit_plugin::{Batch, ModelSpec, Params, PluginRegistry, Task};
//! let mut registry = PluginRegistry::new();
//! refit_linear::register(&mut registry).unwrap();
//! let spec = ModelSpec::new("logistic", Task::Classification, ["a", "b"]);
//! let mut model = registry.create(spec, &Params::new()).unwrap();
//! let report = model
//!     .partial_fit(Batch::new(&[1.0, 0.0, 0.0, 1.0], 2).unwrap().into(), &[1.0, 0.0], 0.1)
//!     .unwrap();
//! assert_eq!(report.rows, 2);
//! // The first row is scored by the zero model: log loss ln 2.
//! assert!(report.mean_loss_before < std::f64::consts::LN_2);
//! ```

mod model;
mod params;
mod payload;
mod snapshot;
mod softmax;
mod step;
mod warm_start;

use std::sync::Arc;

use refit_plugin::{
    LearningRates, Model, ModelSpec, Params, PluginError, PluginFactory, PluginRegistry, Task,
    parse_params,
};

pub use model::{FORMAT_VERSION, LinearModel, default_device};
pub use params::{LinearParams, Loss, Optimizer, Update};
use refit_plugin_kit::multiclass::is_saved_multiclass;
pub use snapshot::LinearSnapshot;
pub use softmax::{SOFTMAX_FORMAT_VERSION, SoftmaxModel, SoftmaxSnapshot};
pub use warm_start::{COEFFICIENTS_FORMAT, COEFFICIENTS_VERSION, Coefficients};

/// The factory of one linear kind (`"logistic"` or `"linear"`).
#[derive(Debug, Clone, Copy)]
pub struct LinearFactory(pub Loss);

impl PluginFactory for LinearFactory {
    fn kind(&self) -> &str {
        self.0.kind()
    }

    fn create(&self, spec: ModelSpec, params: &Params) -> Result<Box<dyn Model>, PluginError> {
        let params: LinearParams = parse_params(self.0.kind(), params)?;
        if spec.task != self.0.task() {
            return Err(PluginError::InvalidParams(format!(
                "kind `{}` is for {}, the config asks for {}",
                self.0.kind(),
                self.0.task(),
                spec.task
            )));
        }
        let spec = ModelSpec {
            kind: self.0.kind().to_owned(),
            ..spec
        };
        if spec.is_multiclass() {
            // Multinomial logistic regression (the task check above leaves
            // only the log loss here).
            return Ok(Box::new(SoftmaxModel::new(spec, params)?));
        }
        Ok(Box::new(LinearModel::for_spec(self.0, spec, params)?))
    }

    fn load(&self, bytes: &[u8]) -> Result<Box<dyn Model>, PluginError> {
        if is_saved_multiclass(bytes) {
            return Ok(Box::new(SoftmaxModel::load(bytes)?));
        }
        Ok(Box::new(LinearModel::load(self.0, bytes)?))
    }

    /// The loss's task: classification for `logistic`, regression for
    /// `linear`.
    fn default_task(&self) -> Task {
        self.0.task()
    }

    /// The table of the configured optimizer ([`Optimizer::learning_rates`]);
    /// parameters that do not parse fall back to the default optimizer's
    /// (creating the model names the problem).
    fn learning_rates(&self, params: &Params) -> LearningRates {
        parse_params::<LinearParams>(self.0.kind(), params)
            .map(|p| p.optimizer)
            .unwrap_or_default()
            .learning_rates()
    }
}

/// Registers `"logistic"` and `"linear"`.
pub fn register(registry: &mut PluginRegistry) -> Result<(), PluginError> {
    registry.register(Arc::new(LinearFactory(Loss::Log)))?;
    registry.register(Arc::new(LinearFactory(Loss::Squared)))
}
