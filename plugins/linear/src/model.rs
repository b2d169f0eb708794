use std::sync::Arc;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use refit_plugin::{
    Batch, FitReport, Model, ModelSpec, PluginError, Predictor, Task, envelope, validate,
};
use serde::{Deserialize, Serialize};

use crate::snapshot::LinearSnapshot;
use crate::warm_start::Coefficients;

/// Payload format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

/// The loss a [`LinearModel`] minimises, which fixes its kind and task.
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
}

impl Default for LinearParams {
    fn default() -> Self {
        Self {
            l2: 0.0,
            fit_intercept: true,
        }
    }
}

impl LinearParams {
    fn check(&self) -> Result<(), PluginError> {
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(PluginError::InvalidParams(format!(
                "l2 = {} must be finite and >= 0",
                self.l2
            )));
        }
        Ok(())
    }
}

/// Logistic or linear regression trained by constant-learning-rate SGD on
/// mini-batches, with Burn tensors and the analytic gradient.
///
/// Each [`partial_fit`](Model::partial_fit) takes one gradient step on the
/// batch mean: `w -= lr * (X^T (f(Xw + b) - y) / n + l2 * w)`,
/// `b -= lr * mean(f(Xw + b) - y)`, with `f` the sigmoid (logistic) or the
/// identity (linear). With batch size 1 this is exactly scikit-learn's
/// `SGDClassifier(loss="log_loss")` / `SGDRegressor()` update at
/// `learning_rate="constant"`.
///
/// ```
/// use refit_linear::{LinearModel, LinearParams, Loss};
/// use refit_plugin::{Batch, Model};
///
/// let mut model = LinearModel::new(Loss::Squared, ["x"], LinearParams::default()).unwrap();
/// let x = [1.0, 2.0, 3.0];
/// let y = [2.0, 4.0, 6.0];
/// for _ in 0..500 {
///     model.partial_fit(&Batch::new(&x, 1).unwrap(), &y, 0.05).unwrap();
/// }
/// let serving = model.snapshot();
/// assert!((serving.predict_row(&[4.0]).unwrap() - 8.0).abs() < 0.05);
/// ```
#[derive(Debug, Clone)]
pub struct LinearModel {
    spec: ModelSpec,
    loss: Loss,
    params: LinearParams,
    device: Device,
    /// Coefficients, `[d, 1]`.
    w: Tensor<2>,
    /// Intercept, `[1, 1]` (broadcast over rows).
    b: Tensor<2>,
    /// Host copy of the weights: the serving snapshot.
    snapshot: Arc<LinearSnapshot>,
    steps: u64,
}

/// The CPU device the linear plugins use unless told otherwise.
pub fn default_device() -> Device {
    Device::flex()
}

impl LinearModel {
    /// A zero-initialised model on the default device.
    pub fn new<S: Into<String>>(
        loss: Loss,
        features: impl IntoIterator<Item = S>,
        params: LinearParams,
    ) -> Result<Self, PluginError> {
        let spec = ModelSpec::new(loss.kind(), loss.task(), features);
        let d = spec.width();
        Self::from_parts(spec, loss, params, vec![0.0; d], 0.0, 0, default_device())
    }

    /// A model that starts from given coefficients and intercept (warm start
    /// from a batch-trained model). The feature names come with them.
    pub fn from_coefficients(
        coefficients: &Coefficients,
        params: LinearParams,
    ) -> Result<Self, PluginError> {
        let loss = Loss::from_kind(&coefficients.kind).ok_or_else(|| {
            PluginError::InvalidParams(format!(
                "coefficient file is for kind `{}`; expected `logistic` or `linear`",
                coefficients.kind
            ))
        })?;
        coefficients.check()?;
        let spec = ModelSpec::new(loss.kind(), loss.task(), coefficients.features.clone());
        Self::from_parts(
            spec,
            loss,
            params,
            coefficients.coefficients.clone(),
            coefficients.intercept,
            0,
            default_device(),
        )
    }

    fn from_parts(
        spec: ModelSpec,
        loss: Loss,
        params: LinearParams,
        w: Vec<f32>,
        b: f32,
        steps: u64,
        device: Device,
    ) -> Result<Self, PluginError> {
        params.check()?;
        if spec.width() == 0 {
            return Err(PluginError::InvalidParams(
                "a model needs at least one feature".into(),
            ));
        }
        if spec.task != loss.task() {
            return Err(PluginError::InvalidParams(format!(
                "kind `{}` is for {}, the spec asks for {}",
                loss.kind(),
                loss.task(),
                spec.task
            )));
        }
        if w.len() != spec.width() || !w.iter().chain([&b]).all(|v| v.is_finite()) {
            return Err(PluginError::InvalidParams(format!(
                "{} finite coefficients are needed for {} features",
                spec.width(),
                spec.width()
            )));
        }
        let d = w.len();
        let snapshot = Arc::new(LinearSnapshot::new(spec.clone(), loss, w.clone(), b));
        Ok(Self {
            w: Tensor::from_data(TensorData::new(w, [d, 1]), &device),
            b: Tensor::from_data(TensorData::new(vec![b], [1, 1]), &device),
            spec,
            loss,
            params,
            device,
            snapshot,
            steps,
        })
    }

    /// Moves the model to another Burn device (e.g. a GPU device when built
    /// with one).
    pub fn to_device(mut self, device: &Device) -> Self {
        self.w = self.w.to_device(device);
        self.b = self.b.to_device(device);
        self.device = device.clone();
        self
    }

    /// The loss (and so the kind) of this model.
    pub fn loss(&self) -> Loss {
        self.loss
    }

    /// Hyper-parameters.
    pub fn params(&self) -> &LinearParams {
        &self.params
    }

    /// Current coefficients, in feature order.
    pub fn coefficients(&self) -> &[f32] {
        self.snapshot.weights()
    }

    /// Current intercept.
    pub fn intercept(&self) -> f32 {
        self.snapshot.intercept()
    }

    /// Gradient steps taken so far (across save/load).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The coefficients in the warm-start JSON format.
    pub fn to_coefficients(&self) -> Coefficients {
        Coefficients::new(
            self.loss.kind(),
            self.spec.features.clone(),
            self.coefficients().to_vec(),
            self.intercept(),
        )
    }

    fn input(&self, x: &Batch<'_>) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(x.values().to_vec(), [x.rows(), x.width()]),
            &self.device,
        )
    }

    fn link(&self, z: Tensor<2>) -> Tensor<2> {
        match self.loss {
            Loss::Log => sigmoid(z),
            Loss::Squared => z,
        }
    }

    /// Mean loss of the linear scores `z` against labels `y`, as `[1]`.
    fn mean_loss(&self, z: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        match self.loss {
            // log(1 + e^z) - y z, written to stay finite for any z.
            Loss::Log => {
                let softplus = z.clone().clamp_min(0.0) + z.clone().abs().neg().exp().log1p();
                (softplus - y * z).mean()
            }
            Loss::Squared => (z - y).square().mean(),
        }
    }
}

fn read_f32(t: Tensor<1>) -> Result<Vec<f32>, PluginError> {
    t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| PluginError::Backend(format!("{e:?}")))
}

impl Model for LinearModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn partial_fit(&mut self, x: &Batch<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        validate::fit_input(&self.spec, x, y, lr)?;
        let (n, d) = (x.rows(), x.width());
        let xt = self.input(x);
        let yt = Tensor::<2>::from_data(TensorData::new(y.to_vec(), [n, 1]), &self.device);

        let z = xt.clone().matmul(self.w.clone()) + self.b.clone();
        let loss = self.mean_loss(z.clone(), yt.clone());
        let err = self.link(z) - yt;
        let mut grad_w = xt.transpose().matmul(err.clone()).div_scalar(n as f32);
        if self.params.l2 > 0.0 {
            grad_w = grad_w + self.w.clone().mul_scalar(self.params.l2);
        }
        let w = self.w.clone() - grad_w.mul_scalar(lr);
        let b = if self.params.fit_intercept {
            self.b.clone() - err.sum_dim(0).mul_scalar(lr / n as f32)
        } else {
            self.b.clone()
        };

        // One read-back: the new weights, the intercept and the loss.
        let host = read_f32(Tensor::cat(
            vec![w.clone().reshape([d]), b.clone().reshape([1]), loss],
            0,
        ))?;
        let loss_before = f64::from(host[d + 1]);
        if let Some(i) = host[..=d].iter().position(|v| !v.is_finite()) {
            let what = if i < d {
                format!("coefficient of `{}`", self.spec.features[i])
            } else {
                "intercept".to_owned()
            };
            return Err(PluginError::Diverged(format!(
                "the {what} would become {} at learning rate {lr}; weights kept",
                host[i]
            )));
        }
        self.w = w;
        self.b = b;
        self.steps += 1;
        self.snapshot = Arc::new(LinearSnapshot::new(
            self.spec.clone(),
            self.loss,
            host[..d].to_vec(),
            host[d],
        ));
        Ok(FitReport {
            rows: n,
            mean_loss_before: loss_before,
        })
    }

    fn predict(&self, x: &Batch<'_>) -> Result<Vec<f32>, PluginError> {
        validate::batch(&self.spec, x)?;
        let z = self.input(x).matmul(self.w.clone()) + self.b.clone();
        read_f32(self.link(z).reshape([x.rows()]))
    }

    fn snapshot(&self) -> Arc<dyn Predictor> {
        self.snapshot.clone()
    }

    fn save(&self) -> Result<Vec<u8>, PluginError> {
        let payload = Payload {
            params: self.params.clone(),
            coefficients: self.coefficients().iter().map(|v| v.to_bits()).collect(),
            intercept: self.intercept().to_bits(),
            steps: self.steps,
        };
        let bytes = serde_json::to_vec(&payload)
            .map_err(|e| PluginError::Backend(format!("encoding payload: {e}")))?;
        Ok(envelope::encode(
            &envelope::Header::new(self.loss.kind(), FORMAT_VERSION, &self.spec),
            &bytes,
        ))
    }
}

/// The payload of format version 1: weights as exact `f32` bit patterns, so a
/// round trip is bit-identical.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    params: LinearParams,
    coefficients: Vec<u32>,
    intercept: u32,
    steps: u64,
}

impl LinearModel {
    /// Loads bytes written by [`Model::save`] of a model with this `loss`.
    pub fn load(loss: Loss, bytes: &[u8]) -> Result<Self, PluginError> {
        let (header, payload) = envelope::decode_for(bytes, loss.kind(), FORMAT_VERSION)?;
        let p: Payload = serde_json::from_slice(payload)
            .map_err(|e| PluginError::Corrupt(format!("{} payload: {e}", loss.kind())))?;
        let spec = header.spec();
        if p.coefficients.len() != spec.width() {
            return Err(PluginError::Corrupt(format!(
                "{} coefficients for {} features",
                p.coefficients.len(),
                spec.width()
            )));
        }
        Self::from_parts(
            spec,
            loss,
            p.params,
            p.coefficients.into_iter().map(f32::from_bits).collect(),
            f32::from_bits(p.intercept),
            p.steps,
            default_device(),
        )
    }
}
