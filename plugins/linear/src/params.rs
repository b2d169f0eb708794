//! The hyper-parameters of the linear plugins and the loss that names
//! their kind.

use refit_plugin::{PluginError, Task};
use refit_plugin_kit::preprocess::PreprocessConfig;
use refit_plugin_kit::safeguard::Safeguard;
use serde::{Deserialize, Serialize};

/// The loss a [`LinearModel`](crate::LinearModel) minimises, which fixes its kind and task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Loss {
    /// Logistic regression: log loss, predictions are P(class 1). Kind `"logistic"`.
    Log,
    /// Linear regression: squared error, predictions are values. Kind `"linear"`.
    Squared,
}

impl Loss {
    /// The plugin kind name.
    pub fn kind(self) -> &'static str {
        match self {
            Loss::Log => "logistic",
            Loss::Squared => "linear",
        }
    }

    /// The task this loss serves.
    pub fn task(self) -> Task {
        match self {
            Loss::Log => Task::Classification,
            Loss::Squared => Task::Regression,
        }
    }

    pub(crate) fn from_kind(kind: &str) -> Option<Self> {
        match kind {
            "logistic" => Some(Loss::Log),
            "linear" => Some(Loss::Squared),
            _ => None,
        }
    }
}

/// Hyper-parameters of the linear plugins (`[model.params]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinearParams {
    /// L2 penalty `alpha`: the objective is `mean loss + alpha/2 * |w|^2`
    /// (scikit-learn's convention); the intercept is not penalised. Default 0.
    pub l2: f32,
    /// Learn an intercept. Default true.
    pub fit_intercept: bool,
    /// Feature preprocessing (`[model.preprocessing]`): standardisation on
    /// by default.
    pub preprocessing: PreprocessConfig,
    /// Divergence safeguard.
    pub safeguard: Safeguard,
    /// How a [`partial_fit`](refit_plugin::Model::partial_fit) call steps through its
    /// rows. Default [`Update::PerSample`].
    pub update: Update,
    /// How a step turns a gradient into a weight change. Default
    /// [`Optimizer::Adagrad`].
    pub optimizer: Optimizer,
    /// AdaGrad's starting sum of squared gradients, per coordinate. Default
    /// 4: it damps the first steps of a fresh model (the first step is
    /// `lr g / sqrt(4 + g^2)` instead of `lr sign(g)`), which a few rows of
    /// noise would otherwise throw far.
    pub initial_accumulator: f32,
    /// Regression only: learn on standardised labels and answer in label
    /// units (see [`refit_plugin_kit::label_scale`]). Default true; ignored by
    /// logistic regression.
    pub scale_label: bool,
}

/// The step rule of a linear model (`[model.params] optimizer`).
///
/// With `adagrad` the learning rate is AdaGrad's base rate: coordinate `j`
/// moves by `lr * g_j / sqrt(G_j)`, where `G_j` sums the squares of every
/// gradient coordinate `j` has had (the intercept too), so early steps are
/// large and each coordinate slows as it accumulates evidence. With `sgd`
/// the rate is the constant per-row step of scikit-learn's
/// `learning_rate="constant"` (`eta0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Per-coordinate adaptive steps (Duchi, Hazan and Singer 2011).
    #[default]
    Adagrad,
    /// Constant-rate SGD.
    Sgd,
}

impl Optimizer {
    /// The learning-rate table this optimizer learns well with (the agent
    /// uses it where `[learning_rate]` leaves a key out).
    pub fn learning_rates(self) -> refit_plugin::LearningRates {
        match self {
            Optimizer::Adagrad => refit_plugin::LearningRates {
                stable: 0.1,
                moderate: 0.2,
                severe: 0.5,
            },
            Optimizer::Sgd => refit_plugin::LearningRates::SGD,
        }
    }
}

/// How a linear model steps through the rows of one
/// [`partial_fit`](refit_plugin::Model::partial_fit) call (`[model.params] update`).
///
/// With constant SGD the learning rate means the same as scikit-learn's
/// `eta0` only with `per_sample`, which is why it is the default: the SGD
/// learning-rate table (0.001 / 0.01 / 0.05) is a per-sample rate. With
/// `mini_batch` the rate applies to the mean gradient of the call's rows, so
/// a batch of 256 rows moves the weights about as far as one row does
/// per-sample; it suits large batches on an accelerator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Update {
    /// One SGD step per row, in row order (scikit-learn's `partial_fit`,
    /// Vowpal Wabbit, River): exact for any batch size.
    #[default]
    PerSample,
    /// One step on the batch-mean gradient, computed with Burn tensors.
    MiniBatch,
}

impl Default for LinearParams {
    fn default() -> Self {
        Self {
            l2: 0.0,
            fit_intercept: true,
            preprocessing: PreprocessConfig::default(),
            safeguard: Safeguard::default(),
            update: Update::PerSample,
            optimizer: Optimizer::Adagrad,
            initial_accumulator: 4.0,
            scale_label: true,
        }
    }
}

impl LinearParams {
    /// Raw constant-rate SGD: no preprocessing, no label scaling, default
    /// safeguard. This is what scikit-learn's
    /// `SGDClassifier`/`SGDRegressor` do with `learning_rate="constant"`.
    pub fn raw() -> Self {
        Self {
            preprocessing: PreprocessConfig::identity(),
            optimizer: Optimizer::Sgd,
            scale_label: false,
            ..Self::default()
        }
    }

    pub(crate) fn check(&self) -> Result<(), PluginError> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(PluginError::InvalidParams(format!(
                "l2 = {} must be finite and >= 0",
                self.l2
            )));
        }
        if !(self.initial_accumulator.is_finite() && self.initial_accumulator >= 0.0) {
            return Err(PluginError::InvalidParams(format!(
                "initial_accumulator = {} must be finite and >= 0",
                self.initial_accumulator
            )));
        }
        self.safeguard.check()
    }
}
