use std::sync::Arc;

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use refit_plugin::{
    FitReport, Input, Model, ModelSpec, PluginError, Predictor, envelope, validate,
};
use refit_plugin_kit::label_scale::{LabelScaler, Unscale};
use refit_plugin_kit::preprocess::{PreprocessConfig, Preprocessor};

use crate::params::{LinearParams, Loss, Optimizer, Update};
use crate::payload::Payload;
use crate::snapshot::LinearSnapshot;
use crate::step::{
    ADAGRAD_EPSILON, AdagradStep, ConstantStep, LossSum, Step, StepRule, dot_and_norm,
    residual_and_loss,
};
use crate::warm_start::Coefficients;

/// Payload format version written by this build: 2 adds the optimizer,
/// its per-coordinate state and the label scaler. Version 1 files load as
/// what they were: constant SGD, no label scaling.
pub const FORMAT_VERSION: u32 = 2;

/// Logistic or linear regression trained by AdaGrad or constant-rate SGD
/// ([`Optimizer`]) with the analytic gradient.
///
/// Rows first pass through the model's [`Preprocessor`] (standardisation by
/// default, see [`refit_plugin_kit::preprocess`]), whose statistics learn from
/// each training batch before it is encoded. Then, for an encoded row `x`
/// with label `y` (standardised with `scale_label`), `e = f(w.x + b) - y`
/// (`f` the sigmoid for logistic, the identity for linear), the gradient is
/// `g = e x + l2 w`, and `w -= lr g`, `b -= lr e` with constant SGD (AdaGrad
/// divides each coordinate's step by the root of its summed squared
/// gradients):
///
/// - [`Update::PerSample`] (default) takes that step for every row in turn,
///   which is exactly scikit-learn's `SGDClassifier(loss="log_loss")` /
///   `SGDRegressor()` `partial_fit` at `learning_rate="constant"` with
///   [`LinearParams::raw`], whatever the batch size;
/// - [`Update::MiniBatch`] takes one step on the mean over the batch,
///   `X^T (f(Xw + b) - y) / n + l2 w`, with Burn doing the two `O(n d)`
///   products.
///
/// The [`Safeguard`](refit_plugin_kit::safeguard::Safeguard) clips or refuses an oversized gradient (per step) and
/// refuses weights that would leave its bound; a refused call changes
/// nothing.
///
/// ```
/// use refit_linear::{LinearModel, LinearParams, Loss};
/// use refit_plugin::{Batch, Model};
///
/// let mut model = LinearModel::new(Loss::Squared, ["x"], LinearParams::default()).unwrap();
/// let x = [1.0, 2.0, 3.0];
/// let y = [2.0, 4.0, 6.0];
/// for _ in 0..500 {
///     model.partial_fit(Batch::new(&x, 1).unwrap().into(), &y, 0.05).unwrap();
/// }
/// let serving = model.snapshot();
/// assert!((serving.predict_row((&[4.0]).into()).unwrap() - 8.0).abs() < 0.05);
/// ```
#[derive(Debug, Clone)]
pub struct LinearModel {
    spec: Arc<ModelSpec>,
    loss: Loss,
    params: LinearParams,
    device: Device,
    pre: Arc<Preprocessor>,
    /// The weights and the preprocessor: the serving snapshot. The Burn
    /// paths (mini-batch steps, batch predict) build their tensors from it.
    snapshot: Arc<LinearSnapshot>,
    /// Running statistics of the training labels (learned only when
    /// labels are scaled).
    label: LabelScaler,
    /// AdaGrad's sums of squared gradients, one per coefficient then the
    /// intercept's (empty with constant SGD).
    accumulators: Vec<f32>,
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
        Self::for_spec(
            loss,
            ModelSpec::new(loss.kind(), loss.task(), features),
            params,
        )
    }

    /// A zero-initialised model of `spec` (its kind and task must be the
    /// loss's; its categorical features and classes are kept with it).
    pub fn for_spec(
        loss: Loss,
        spec: ModelSpec,
        params: LinearParams,
    ) -> Result<Self, PluginError> {
        let pre = Preprocessor::new(&spec.features, &params.preprocessing)?;
        let width = pre.encoded_width();
        Self::from_parts(spec, loss, params, pre, State::zero(width))
    }

    /// A model that starts from given coefficients and intercept (warm start
    /// from a batch-trained model). The feature names come with them.
    ///
    /// The coefficients apply to raw feature values and answer in label
    /// units, so the model keeps raw numeric features and labels:
    /// `params.preprocessing` is replaced by [`PreprocessConfig::identity`]
    /// and `scale_label` is off.
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
        let params = LinearParams {
            preprocessing: PreprocessConfig::identity(),
            scale_label: false,
            ..params
        };
        let spec = ModelSpec::new(loss.kind(), loss.task(), coefficients.features.clone());
        let pre = Preprocessor::new(&spec.features, &params.preprocessing)?;
        let mut state = State::zero(coefficients.coefficients.len());
        state.w = coefficients.coefficients.clone();
        state.b = coefficients.intercept;
        Self::from_parts(spec, loss, params, pre, state)
    }

    pub(crate) fn from_parts(
        spec: ModelSpec,
        loss: Loss,
        params: LinearParams,
        pre: Preprocessor,
        state: State,
    ) -> Result<Self, PluginError> {
        let State {
            w,
            b,
            accumulators,
            label,
            steps,
        } = state;
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
        let width = pre.encoded_width();
        if w.len() != width || !w.iter().chain([&b]).all(|v| v.is_finite()) {
            return Err(PluginError::InvalidParams(format!(
                "{width} finite coefficients are needed, {} given",
                w.len()
            )));
        }
        let accumulators = match params.optimizer {
            Optimizer::Sgd => Vec::new(),
            Optimizer::Adagrad if accumulators.is_empty() => {
                vec![params.initial_accumulator; width + 1]
            }
            Optimizer::Adagrad => accumulators,
        };
        if !accumulators.is_empty()
            && (accumulators.len() != width + 1
                || !accumulators.iter().all(|g| g.is_finite() && *g >= 0.0))
        {
            return Err(PluginError::InvalidParams(format!(
                "AdaGrad needs {} finite, non-negative accumulators, {} given",
                width + 1,
                accumulators.len()
            )));
        }
        if !label.is_finite() {
            return Err(PluginError::InvalidParams(
                "the label scaler's statistics are not finite".into(),
            ));
        }
        let device = default_device();
        let pre = Arc::new(pre);
        let spec = Arc::new(spec);
        let out = output_of(&params, loss, &label);
        Ok(Self {
            snapshot: Arc::new(
                LinearSnapshot::new(spec.clone(), loss, pre.clone(), w, b).with_output(out),
            ),
            spec,
            loss,
            params,
            device,
            pre,
            accumulators,
            label,
            steps,
        })
    }

    /// Whether labels are standardised (regression with `scale_label`).
    fn scales_label(&self) -> bool {
        scales_label(&self.params, self.loss)
    }

    /// A serving snapshot of these weights under the current preprocessor
    /// and label scaler.
    fn snapshot_with(&self, w: Vec<f32>, b: f32) -> Arc<LinearSnapshot> {
        Arc::new(
            LinearSnapshot::new(self.spec.clone(), self.loss, self.pre.clone(), w, b)
                .with_output(output_of(&self.params, self.loss, &self.label)),
        )
    }

    /// Moves the model to another Burn device (e.g. a GPU device when built
    /// with one).
    pub fn to_device(mut self, device: &Device) -> Self {
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

    /// The preprocessing stage.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.pre
    }

    /// Current coefficients, one per encoded column (one per feature when
    /// every feature is numeric).
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

    /// Coefficients and intercept over the raw features and in label
    /// units, with the standardisation of features (and labels) folded in
    /// (`None` when a feature is categorical).
    pub fn raw_coefficients(&self) -> Option<(Vec<f32>, f32)> {
        let (w, b) = self
            .pre
            .unfold_linear(self.coefficients(), self.intercept())?;
        if !self.scales_label() {
            return Some((w, b));
        }
        let sd = self.label.sd();
        Some((
            w.into_iter().map(|v| v * sd).collect(),
            self.label.unscale(b),
        ))
    }

    /// The optimizer's state: AdaGrad's sums of squared gradients, one per
    /// coefficient then the intercept's (empty with constant SGD).
    pub fn accumulators(&self) -> &[f32] {
        &self.accumulators
    }

    /// The running statistics of the training labels (learned only by a
    /// regressor with `scale_label`).
    pub fn label_scaler(&self) -> &LabelScaler {
        &self.label
    }

    /// The coefficients in the warm-start JSON format, over the raw features
    /// (`None` when a feature is categorical).
    pub fn to_coefficients(&self) -> Option<Coefficients> {
        let (w, b) = self.raw_coefficients()?;
        Some(Coefficients::new(
            self.loss.kind(),
            self.spec.features.clone(),
            w,
            b,
        ))
    }

    /// The coefficients as a `[width, 1]` tensor.
    fn weight_tensor(&self) -> Tensor<2> {
        let w = self.coefficients().to_vec();
        let d = w.len();
        Tensor::from_data(TensorData::new(w, [d, 1]), &self.device)
    }

    /// Encoded rows, `[rows, encoded width]`, as a tensor.
    fn tensor(&self, encoded: Vec<f32>, rows: usize) -> Tensor<2> {
        let width = encoded.len() / rows;
        Tensor::from_data(TensorData::new(encoded, [rows, width]), &self.device)
    }

    fn link(&self, z: Tensor<2>) -> Tensor<2> {
        match self.loss {
            Loss::Log => sigmoid(z),
            Loss::Squared => z,
        }
    }
}

/// Everything a model learns, as [`LinearModel::from_parts`] takes it.
pub(crate) struct State {
    pub(crate) w: Vec<f32>,
    pub(crate) b: f32,
    /// Empty: fresh (AdaGrad starts from zeros).
    pub(crate) accumulators: Vec<f32>,
    pub(crate) label: LabelScaler,
    pub(crate) steps: u64,
}

impl State {
    /// The untrained model of `width` encoded columns.
    fn zero(width: usize) -> Self {
        Self {
            w: vec![0.0; width],
            b: 0.0,
            accumulators: Vec::new(),
            label: LabelScaler::default(),
            steps: 0,
        }
    }
}

impl LinearModel {
    /// One step per encoded row, in order, on a copy of the weights and of
    /// the optimizer's state.
    fn per_sample(&self, encoded: &[f32], y: &[f32], lr: f32) -> Result<Step, PluginError> {
        match self.params.optimizer {
            Optimizer::Sgd => self.per_sample_with(encoded, y, lr, ConstantStep),
            Optimizer::Adagrad => {
                let mut accumulators = self.accumulators.clone();
                let (weights, intercept) = accumulators.split_at_mut(self.coefficients().len());
                let mut step = self.per_sample_with(
                    encoded,
                    y,
                    lr,
                    AdagradStep {
                        weights,
                        intercept: &mut intercept[0],
                    },
                )?;
                step.accumulators = accumulators;
                Ok(step)
            }
        }
    }

    /// The per-row loop, with `rule` turning each row's (clipped) gradient
    /// into a weight change.
    fn per_sample_with(
        &self,
        encoded: &[f32],
        y: &[f32],
        lr: f32,
        mut rule: impl StepRule,
    ) -> Result<Step, PluginError> {
        let d = self.coefficients().len();
        let mut w = self.coefficients().to_vec();
        let mut b = self.intercept();
        let (l2, fit_intercept) = (self.params.l2, self.params.fit_intercept);
        let mut step = Step {
            weights: Vec::new(),
            accumulators: Vec::new(),
            loss_sum: 0.0,
            grad_norm: 0.0,
            clipped: false,
            steps: y.len() as u64,
        };
        let intercept_term = if fit_intercept { 1.0 } else { 0.0 };
        let max_norm = f64::from(self.params.safeguard.max_grad_norm);
        let mut max_sq = 0.0f64;
        let mut losses = LossSum::new();
        for (x, &yi) in encoded.chunks_exact(d).zip(y) {
            let (dot, xx) = dot_and_norm(x, &w);
            let (e, linear, factor) = residual_and_loss(self.loss, b + dot, yi);
            losses.add(linear, factor);
            // |g|^2 with g = (e x + l2 w, e): without L2 it is e^2 (|x|^2 + 1).
            let sq = if l2 == 0.0 {
                e * e * (xx + intercept_term)
            } else {
                let penalised: f32 = x
                    .iter()
                    .zip(&w)
                    .map(|(xj, wj)| (e * xj + l2 * wj).powi(2))
                    .sum();
                penalised + intercept_term * e * e
            };
            let sq = f64::from(sq);
            // The square root only when the safeguard has to look closer.
            let scale = if sq <= max_norm * max_norm {
                1.0
            } else {
                self.params.safeguard.gradient_scale(sq.sqrt())?
            };
            max_sq = max_sq.max(sq);
            step.clipped |= scale < 1.0;
            rule.weights(&mut w, x, e, l2, lr, scale);
            if fit_intercept {
                rule.intercept(&mut b, e, lr, scale);
            }
        }
        w.push(b);
        step.weights = w;
        step.grad_norm = max_sq.sqrt();
        step.loss_sum = losses.total();
        Ok(step)
    }

    /// One step on the batch-mean gradient; Burn does the two `O(n d)`
    /// products, the `O(n)` link, residual and loss run on the host between
    /// them (fewer tensor calls per step).
    fn mini_batch(&self, encoded: Vec<f32>, y: &[f32], lr: f32) -> Result<Step, PluginError> {
        let n = y.len();
        let xt = self.tensor(encoded, n);
        let d = self.coefficients().len();
        let b0 = self.intercept();
        let z = read_f32(xt.clone().matmul(self.weight_tensor()).reshape([n]))?;
        let mut err = Vec::with_capacity(n);
        let (mut losses, mut err_sum) = (LossSum::new(), 0.0f64);
        for (&zi, &yi) in z.iter().zip(y) {
            let (e, linear, factor) = residual_and_loss(self.loss, zi + b0, yi);
            err.push(e);
            err_sum += f64::from(e);
            losses.add(linear, factor);
        }
        let loss_sum = losses.total();
        let et = Tensor::<2>::from_data(TensorData::new(err, [n, 1]), &self.device);
        let summed = read_f32(xt.transpose().matmul(et).reshape([d]))?;
        let w0 = self.coefficients();
        let inv_n = 1.0 / n as f32;
        let l2 = self.params.l2;
        let mut grad: Vec<f32> = summed
            .iter()
            .zip(w0)
            .map(|(g, w)| g * inv_n + l2 * w)
            .collect();
        grad.push(if self.params.fit_intercept {
            (err_sum / n as f64) as f32
        } else {
            0.0
        });
        let norm = grad
            .iter()
            .map(|g| f64::from(*g).powi(2))
            .sum::<f64>()
            .sqrt();
        let scale = self.params.safeguard.gradient_scale(norm)?;
        let eta = lr * scale;
        let mut accumulators = self.accumulators.clone();
        let weights = match self.params.optimizer {
            Optimizer::Sgd => w0
                .iter()
                .chain([&b0])
                .zip(&grad)
                .map(|(w, g)| w - eta * g)
                .collect(),
            Optimizer::Adagrad => w0
                .iter()
                .chain([&b0])
                .zip(&grad)
                .zip(accumulators.iter_mut())
                .map(|((w, g), acc)| {
                    let g = g * scale;
                    *acc += g * g;
                    w - lr * g / (acc.sqrt() + ADAGRAD_EPSILON)
                })
                .collect(),
        };
        Ok(Step {
            weights,
            accumulators,
            loss_sum,
            grad_norm: norm,
            clipped: scale < 1.0,
            steps: 1,
        })
    }
}

/// Names weight `i` of a model whose encoded columns `pre` describes (the
/// last weight is the intercept).
fn weight_name(pre: &Preprocessor, i: usize) -> String {
    match pre.encoded_names().get(i) {
        Some(name) => format!("coefficient of `{name}`"),
        None => "intercept".to_owned(),
    }
}

/// Whether a model of `loss` with `params` standardises its labels
/// (regression with `scale_label`).
fn scales_label(params: &LinearParams, loss: Loss) -> bool {
    params.scale_label && loss == Loss::Squared
}

/// How the serving snapshot maps a raw output to label units.
fn output_of(params: &LinearParams, loss: Loss, label: &LabelScaler) -> Unscale {
    if scales_label(params, loss) {
        label.unscaling()
    } else {
        Unscale::IDENTITY
    }
}

/// The logistic function, as the serving snapshot computes it.
pub(crate) fn sigmoid_f32(z: f32) -> f32 {
    1.0 / (1.0 + (-z).exp())
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

    fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        let x = &x.dense(&self.spec)?;
        validate::learning_rate(lr)?;
        // Statistics learn from this batch first (checking it); nothing is
        // kept unless the whole update is accepted.
        let mut pre = (*self.pre).clone();
        let encoded = pre.learn_and_encode_borrowed(x)?;
        validate::labels(&self.spec, x.rows(), y)?;
        // Regression labels scale with the statistics that include this
        // batch (as the features do).
        let mut label = self.label.clone();
        let scaled: Vec<f32>;
        let y = if self.scales_label() {
            label.learn(y);
            scaled = y.iter().map(|&v| label.scale(v)).collect();
            &scaled[..]
        } else {
            y
        };
        let step = match self.params.update {
            Update::PerSample => self.per_sample(&encoded, y, lr)?,
            Update::MiniBatch => self.mini_batch(encoded.into_owned(), y, lr)?,
        };
        let mut next = step.weights;
        self.params
            .safeguard
            .check_weights(&next, lr, |i| weight_name(&pre, i))?;
        let b = next.pop().unwrap_or_else(|| self.intercept());
        self.pre = Arc::new(pre);
        self.label = label;
        self.accumulators = step.accumulators;
        self.steps += step.steps;
        self.snapshot = self.snapshot_with(next, b);
        let n = y.len();
        // The loss in label units.
        let units = if self.scales_label() {
            f64::from(self.label.sd()).powi(2)
        } else {
            1.0
        };
        Ok(FitReport::new(n, units * step.loss_sum / n as f64)
            .with_gradient(step.grad_norm, step.clipped))
    }

    fn predict(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        let x = &x.dense(&self.spec)?;
        let b = Tensor::<2>::from_data(
            TensorData::new(vec![self.intercept()], [1, 1]),
            &self.device,
        );
        let z = self
            .tensor(self.pre.encode_batch(x)?, x.rows())
            .matmul(self.weight_tensor())
            + b;
        let out = read_f32(self.link(z).reshape([x.rows()]))?;
        Ok(if self.scales_label() {
            out.into_iter().map(|z| self.label.unscale(z)).collect()
        } else {
            out
        })
    }

    fn snapshot(&self) -> Arc<dyn Predictor> {
        self.snapshot.clone()
    }

    fn save(&self) -> Result<Vec<u8>, PluginError> {
        let payload = Payload {
            params: self.params.clone(),
            preprocessor: (*self.pre).clone(),
            coefficients: self.coefficients().iter().map(|v| v.to_bits()).collect(),
            intercept: self.intercept().to_bits(),
            steps: self.steps,
            accumulators: self.accumulators.iter().map(|v| v.to_bits()).collect(),
            label: self.label.clone(),
        };
        let bytes = serde_json::to_vec(&payload)
            .map_err(|e| PluginError::Backend(format!("encoding payload: {e}")))?;
        Ok(envelope::encode(
            &envelope::Header::new(self.loss.kind(), FORMAT_VERSION, &self.spec),
            &bytes,
        ))
    }
}
