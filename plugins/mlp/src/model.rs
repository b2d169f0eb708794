use std::sync::Arc;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use refit_plugin::{
    FitReport, Input, Model, ModelSpec, PluginError, Predictor, Task, envelope, validate,
};
use refit_plugin_kit::label_scale::{LabelScaler, Unscale};
use refit_plugin_kit::preprocess::{PreprocessConfig, Preprocessor};
use refit_plugin_kit::safeguard::Safeguard;
use serde::{Deserialize, Serialize};

use crate::net::{HostLayer, Net};
use crate::snapshot::MlpSnapshot;

/// Payload format version written by this build: 2 adds the mini-batch
/// schedule and the label scaler. Version 1 files load as what they were:
/// one step per call on raw labels.
pub const FORMAT_VERSION: u32 = 2;

/// The optimizer of an [`MlpModel`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Optimizer {
    /// Plain stochastic gradient descent.
    Sgd,
    /// Adam (beta1 0.9, beta2 0.999, epsilon 1e-5).
    Adam,
}

/// Hyper-parameters of the `"mlp"` plugin (`[model.params]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MlpParams {
    /// Hidden layer sizes, input side first. Default `[32]`.
    pub hidden: Vec<usize>,
    /// Default `adam`.
    pub optimizer: Optimizer,
    /// Seed of the weight initialisation. Default 42.
    pub seed: u64,
    /// Feature preprocessing (`[model.preprocessing]`): standardisation on
    /// by default.
    pub preprocessing: PreprocessConfig,
    /// Divergence safeguard (the gradient norm is taken over every
    /// parameter of the network).
    pub safeguard: Safeguard,
    /// Rows per optimizer step inside a [`partial_fit`](Model::partial_fit)
    /// call; 0 takes the whole call as one step. Default 8: a network
    /// learning online needs many small steps, not one step per update.
    pub batch_size: usize,
    /// Passes over a call's rows, each in `batch_size` steps. Default 2.
    pub passes: usize,
    /// Regression only: learn on standardised labels and answer in label
    /// units (see [`refit_plugin_kit::label_scale`]). Default true.
    pub scale_label: bool,
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            hidden: vec![32],
            optimizer: Optimizer::Adam,
            seed: 42,
            preprocessing: PreprocessConfig::default(),
            safeguard: Safeguard::default(),
            batch_size: 8,
            passes: 2,
            scale_label: true,
        }
    }
}

impl MlpParams {
    fn check(&self) -> Result<(), PluginError> {
        if self.hidden.contains(&0) {
            return Err(PluginError::InvalidParams(format!(
                "hidden = {:?}: every layer needs at least one unit",
                self.hidden
            )));
        }
        if self.passes == 0 {
            return Err(PluginError::InvalidParams(
                "passes = 0: every call needs at least one pass".into(),
            ));
        }
        self.safeguard.check()
    }

    /// The learning rates these parameters learn well with: Adam's rate
    /// (the same step size for every weight, whatever the gradient's
    /// scale) or, with SGD, a step on the mean gradient of `batch_size`
    /// rows.
    pub fn learning_rates(&self) -> refit_plugin::LearningRates {
        match self.optimizer {
            Optimizer::Adam => refit_plugin::LearningRates {
                stable: 0.01,
                moderate: 0.02,
                severe: 0.05,
            },
            Optimizer::Sgd => refit_plugin::LearningRates {
                stable: 0.01,
                moderate: 0.05,
                severe: 0.1,
            },
        }
    }

    fn optimizer(&self) -> ModuleOptimizer {
        match self.optimizer {
            Optimizer::Sgd => SgdConfig::new().init(),
            Optimizer::Adam => AdamConfig::new().init(),
        }
    }
}

/// A multi-layer perceptron (dense layers, ReLU, one output unit) trained with
/// Burn autodiff: each [`partial_fit`](Model::partial_fit) makes
/// [`MlpParams::passes`] passes over its rows, one optimizer step per
/// [`MlpParams::batch_size`] rows on their mean loss (log loss on the logit
/// for classification, squared error for regression, on standardised
/// labels with [`MlpParams::scale_label`]).
///
/// ```
/// use refit_mlp::{MlpModel, MlpParams};
/// use refit_plugin::{Batch, Model, ModelSpec, Task};
///
/// let spec = ModelSpec::new("mlp", Task::Regression, ["x"]);
/// let mut model = MlpModel::new(spec, MlpParams { hidden: vec![8], ..Default::default() }).unwrap();
/// let x = [0.0, 0.5, 1.0];
/// let y = [1.0, 2.0, 3.0];
/// let first = model.partial_fit(Batch::new(&x, 1).unwrap().into(), &y, 0.05).unwrap();
/// for _ in 0..300 {
///     model.partial_fit(Batch::new(&x, 1).unwrap().into(), &y, 0.05).unwrap();
/// }
/// let last = model.partial_fit(Batch::new(&x, 1).unwrap().into(), &y, 0.05).unwrap();
/// assert!(last.mean_loss_before < first.mean_loss_before / 10.0);
/// ```
#[derive(Clone)]
pub struct MlpModel {
    spec: ModelSpec,
    params: MlpParams,
    /// Autodiff device the network trains on.
    device: Device,
    pre: Arc<Preprocessor>,
    net: Net,
    optim: ModuleOptimizer,
    snapshot: Arc<MlpSnapshot>,
    /// Running statistics of the training labels (learned only when
    /// labels are scaled).
    label: LabelScaler,
    steps: u64,
}

impl std::fmt::Debug for MlpModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MlpModel")
            .field("spec", &self.spec)
            .field("params", &self.params)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

/// The CPU device the MLP plugin uses unless told otherwise.
pub fn default_device() -> Device {
    Device::flex()
}

impl MlpModel {
    /// A freshly initialised network on the default device.
    pub fn new(spec: ModelSpec, params: MlpParams) -> Result<Self, PluginError> {
        Self::new_on(spec, params, &default_device())
    }

    /// A freshly initialised network on `device` (the plain device; autodiff
    /// is added here).
    pub fn new_on(
        spec: ModelSpec,
        params: MlpParams,
        device: &Device,
    ) -> Result<Self, PluginError> {
        params.check()?;
        if spec.width() == 0 {
            return Err(PluginError::InvalidParams(
                "a model needs at least one feature".into(),
            ));
        }
        let pre = Preprocessor::new(&spec.features, &params.preprocessing)?;
        let ad = device.clone().autodiff();
        let net = Net::init(&layer_sizes(&pre, &params), params.seed, &ad);
        Self::from_net(spec, params, pre, ad, net, LabelScaler::default(), 0)
    }

    fn from_net(
        spec: ModelSpec,
        params: MlpParams,
        pre: Preprocessor,
        device: Device,
        net: Net,
        label: LabelScaler,
        steps: u64,
    ) -> Result<Self, PluginError> {
        let host = net.to_host().map_err(PluginError::Backend)?;
        let pre = Arc::new(pre);
        let out = output_of(&params, &spec, &label);
        Ok(Self {
            snapshot: Arc::new(MlpSnapshot::new(spec.clone(), pre.clone(), host).with_output(out)),
            optim: params.optimizer(),
            spec,
            params,
            device,
            pre,
            net,
            label,
            steps,
        })
    }

    /// Whether labels are standardised (regression with `scale_label`).
    fn scales_label(&self) -> bool {
        scales_label(&self.params, &self.spec)
    }

    /// The serving snapshot of `host` weights under the current
    /// preprocessor and label scaler.
    fn snapshot_of(&self, host: Vec<HostLayer>) -> Arc<MlpSnapshot> {
        Arc::new(
            MlpSnapshot::new(self.spec.clone(), self.pre.clone(), host).with_output(output_of(
                &self.params,
                &self.spec,
                &self.label,
            )),
        )
    }

    /// The running statistics of the training labels (learned only by a
    /// regressor with `scale_label`).
    pub fn label_scaler(&self) -> &LabelScaler {
        &self.label
    }

    /// The preprocessing stage.
    pub fn preprocessor(&self) -> &Preprocessor {
        &self.pre
    }

    /// Hyper-parameters.
    pub fn params(&self) -> &MlpParams {
        &self.params
    }

    /// Optimizer steps taken so far (across save/load).
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Encoded rows, `[rows, encoded width]`, as a tensor on `device`.
    fn tensor(encoded: Vec<f32>, rows: usize, device: &Device) -> Tensor<2> {
        let width = encoded.len() / rows;
        Tensor::from_data(TensorData::new(encoded, [rows, width]), device)
    }

    /// Mean training loss of scores `z` against `y`, as `[1]`.
    fn loss(&self, z: Tensor<2>, y: Tensor<2>) -> Tensor<1> {
        match self.spec.task {
            Task::Classification => {
                let softplus = z.clone().clamp_min(0.0) + z.clone().abs().neg().exp().log1p();
                (softplus - y * z).mean()
            }
            Task::Regression => (z - y).square().mean(),
        }
    }
}

impl Model for MlpModel {
    fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    fn partial_fit(&mut self, x: Input<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        let x = &x.dense(&self.spec)?;
        validate::learning_rate(lr)?;
        // Statistics learn from this batch first (checking it); nothing is
        // kept unless the whole update is accepted.
        let mut pre = (*self.pre).clone();
        let encoded = pre.learn_and_encode(x)?;
        validate::labels(&self.spec, x.rows(), y)?;
        let mut label = self.label.clone();
        let y: Vec<f32> = if self.scales_label() {
            label.learn(y);
            y.iter().map(|&v| label.scale(v)).collect()
        } else {
            y.to_vec()
        };
        let n = x.rows();
        let width = encoded.len() / n;
        let rows = if self.params.batch_size == 0 {
            n
        } else {
            self.params.batch_size
        };
        // The optimizer keeps state (Adam moments): step copies, keep them
        // only if every step passes the safeguard.
        let (mut net, mut optim) = (self.net.clone(), self.optim.clone());
        let (mut loss_first_pass, mut max_norm, mut clipped, mut steps) =
            (0.0f64, 0.0f64, false, 0);
        for pass in 0..self.params.passes {
            for (xs, ys) in encoded.chunks(rows * width).zip(y.chunks(rows)) {
                let m = ys.len();
                let xt = Self::tensor(xs.to_vec(), m, &self.device);
                let yt = Tensor::<2>::from_data(TensorData::new(ys.to_vec(), [m, 1]), &self.device);
                let loss = self.loss(net.forward(xt), yt);
                if pass == 0 {
                    let before = loss
                        .clone()
                        .into_data()
                        .try_to_vec::<f32>()
                        .map_err(|e| PluginError::Backend(format!("{e:?}")))?[0];
                    loss_first_pass += f64::from(before) * m as f64;
                }
                let mut grads = GradientsParams::from_grads(loss.backward(), &net);
                let norm = net.grad_norm(&grads).map_err(PluginError::Backend)?;
                let scale = self.params.safeguard.gradient_scale(norm)?;
                if scale < 1.0 {
                    net.scale_grads(&mut grads, scale);
                }
                net = optim.step(f64::from(lr), net, grads);
                max_norm = max_norm.max(norm);
                clipped |= scale < 1.0;
                steps += 1;
            }
        }
        let host = net.to_host().map_err(PluginError::Backend)?;
        for (i, layer) in host.iter().enumerate() {
            let all: Vec<f32> = layer.weight.iter().chain(&layer.bias).copied().collect();
            self.params
                .safeguard
                .check_weights(&all, lr, |_| format!("a weight of layer {i}"))?;
        }
        self.net = net;
        self.optim = optim;
        self.pre = Arc::new(pre);
        self.label = label;
        self.steps += steps;
        self.snapshot = self.snapshot_of(host);
        // The first pass's losses, each before its own step, in label units.
        let units = if self.scales_label() {
            f64::from(self.label.sd()).powi(2)
        } else {
            1.0
        };
        Ok(FitReport::new(n, units * loss_first_pass / n as f64).with_gradient(max_norm, clipped))
    }

    fn predict(&self, x: Input<'_>) -> Result<Vec<f32>, PluginError> {
        let x = &x.dense(&self.spec)?;
        let inference = self.net.valid();
        let device = self.device.clone().inner();
        let z = inference.forward(Self::tensor(self.pre.encode_batch(x)?, x.rows(), &device));
        let out = match self.spec.task {
            Task::Classification => sigmoid(z),
            Task::Regression => z,
        };
        let out = out
            .reshape([x.rows()])
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| PluginError::Backend(format!("{e:?}")))?;
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
            steps: self.steps,
            label: self.label.clone(),
            layers: self
                .snapshot
                .layers()
                .iter()
                .map(|l| LayerBits {
                    inputs: l.inputs,
                    outputs: l.outputs,
                    weight: l.weight.iter().map(|v| v.to_bits()).collect(),
                    bias: l.bias.iter().map(|v| v.to_bits()).collect(),
                })
                .collect(),
        };
        let bytes = serde_json::to_vec(&payload)
            .map_err(|e| PluginError::Backend(format!("encoding payload: {e}")))?;
        Ok(envelope::encode(
            &envelope::Header::new("mlp", FORMAT_VERSION, &self.spec),
            &bytes,
        ))
    }
}

/// The payload: the weights as exact `f32` bit patterns and the label
/// scaler's statistics (absent from version 1). Optimizer state (Adam
/// moments) is not saved: a loaded model restarts them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    params: MlpParams,
    preprocessor: Preprocessor,
    steps: u64,
    #[serde(default)]
    label: LabelScaler,
    layers: Vec<LayerBits>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LayerBits {
    inputs: usize,
    outputs: usize,
    weight: Vec<u32>,
    bias: Vec<u32>,
}

impl MlpModel {
    /// Loads bytes written by [`Model::save`].
    pub fn load(bytes: &[u8]) -> Result<Self, PluginError> {
        let (header, payload) = envelope::decode_for(bytes, "mlp", FORMAT_VERSION)?;
        let mut p: Payload = serde_json::from_slice(payload)
            .map_err(|e| PluginError::Corrupt(format!("mlp payload: {e}")))?;
        if header.format_version == 1 {
            // Written when a call was one step on raw labels.
            p.params.batch_size = 0;
            p.params.passes = 1;
            p.params.scale_label = false;
        }
        p.label.refresh();
        if !p.label.is_finite() {
            return Err(PluginError::Corrupt(
                "the label scaler's statistics are not finite".into(),
            ));
        }
        p.params
            .check()
            .map_err(|e| PluginError::Corrupt(e.to_string()))?;
        p.preprocessor = p.preprocessor.checked()?;
        let spec = header.spec();
        if p.preprocessor.raw_width() != spec.width() {
            return Err(PluginError::Corrupt(format!(
                "preprocessor for {} features, header names {}",
                p.preprocessor.raw_width(),
                spec.width()
            )));
        }
        let sizes = layer_sizes(&p.preprocessor, &p.params);
        // Sizes are checked against the weights the file holds, with
        // checked products: no size can overflow or ask for more memory
        // than the file brought.
        let shapes_ok = p.layers.len() + 1 == sizes.len()
            && p.layers.iter().zip(sizes.windows(2)).all(|(l, io)| {
                l.inputs == io[0]
                    && l.outputs == io[1]
                    && io[0].checked_mul(io[1]) == Some(l.weight.len())
                    && l.bias.len() == io[1]
            });
        if !shapes_ok {
            return Err(PluginError::Corrupt(format!(
                "layer shapes do not match the layer sizes {sizes:?}"
            )));
        }
        let host: Vec<HostLayer> = p
            .layers
            .into_iter()
            .map(|l| HostLayer {
                inputs: l.inputs,
                outputs: l.outputs,
                weight: l.weight.into_iter().map(f32::from_bits).collect(),
                bias: l.bias.into_iter().map(f32::from_bits).collect(),
            })
            .collect();
        if host
            .iter()
            .any(|l| l.weight.iter().chain(&l.bias).any(|v| !v.is_finite()))
        {
            return Err(PluginError::Corrupt("non-finite weight".into()));
        }
        let ad = default_device().autodiff();
        let net = Net::from_host(&host, &ad);
        Self::from_net(spec, p.params, p.preprocessor, ad, net, p.label, p.steps)
    }
}

/// Whether a model of `spec` with `params` standardises its labels
/// (regression with `scale_label`).
fn scales_label(params: &MlpParams, spec: &ModelSpec) -> bool {
    params.scale_label && spec.task == Task::Regression
}

/// How the serving snapshot maps a raw output to label units.
fn output_of(params: &MlpParams, spec: &ModelSpec, label: &LabelScaler) -> Unscale {
    if scales_label(params, spec) {
        label.unscaling()
    } else {
        Unscale::IDENTITY
    }
}

/// Input width (encoded), hidden sizes, one output.
fn layer_sizes(pre: &Preprocessor, params: &MlpParams) -> Vec<usize> {
    let mut sizes = vec![pre.encoded_width()];
    sizes.extend(&params.hidden);
    sizes.push(1);
    sizes
}
