use std::sync::Arc;

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use refit_plugin::preprocess::{PreprocessConfig, Preprocessor};
use refit_plugin::safeguard::Safeguard;
use refit_plugin::{
    Batch, FitReport, Model, ModelSpec, PluginError, Predictor, Task, envelope, validate,
};
use serde::{Deserialize, Serialize};

use crate::net::{HostLayer, Net};
use crate::snapshot::MlpSnapshot;

/// Payload format version written by this build.
pub const FORMAT_VERSION: u32 = 1;

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
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            hidden: vec![32],
            optimizer: Optimizer::Adam,
            seed: 42,
            preprocessing: PreprocessConfig::default(),
            safeguard: Safeguard::default(),
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
        self.safeguard.check()
    }

    fn optimizer(&self) -> ModuleOptimizer {
        match self.optimizer {
            Optimizer::Sgd => SgdConfig::new().init(),
            Optimizer::Adam => AdamConfig::new().init(),
        }
    }
}

/// A multi-layer perceptron (dense layers, ReLU, one output unit) trained with
/// Burn autodiff: each [`partial_fit`](Model::partial_fit) is one optimizer
/// step on the batch mean loss (log loss on the logit for classification,
/// squared error for regression).
///
/// ```
/// use refit_mlp::{MlpModel, MlpParams};
/// use refit_plugin::{Batch, Model, ModelSpec, Task};
///
/// let spec = ModelSpec::new("mlp", Task::Regression, ["x"]);
/// let mut model = MlpModel::new(spec, MlpParams { hidden: vec![8], ..Default::default() }).unwrap();
/// let x = [0.0, 0.5, 1.0];
/// let y = [1.0, 2.0, 3.0];
/// let first = model.partial_fit(&Batch::new(&x, 1).unwrap(), &y, 0.05).unwrap();
/// for _ in 0..300 {
///     model.partial_fit(&Batch::new(&x, 1).unwrap(), &y, 0.05).unwrap();
/// }
/// let last = model.partial_fit(&Batch::new(&x, 1).unwrap(), &y, 0.05).unwrap();
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
        Self::from_net(spec, params, pre, ad, net, 0)
    }

    fn from_net(
        spec: ModelSpec,
        params: MlpParams,
        pre: Preprocessor,
        device: Device,
        net: Net,
        steps: u64,
    ) -> Result<Self, PluginError> {
        let host = net.to_host().map_err(PluginError::Backend)?;
        let pre = Arc::new(pre);
        Ok(Self {
            snapshot: Arc::new(MlpSnapshot::new(spec.clone(), pre.clone(), host)),
            optim: params.optimizer(),
            spec,
            params,
            device,
            pre,
            net,
            steps,
        })
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

    fn partial_fit(&mut self, x: &Batch<'_>, y: &[f32], lr: f32) -> Result<FitReport, PluginError> {
        validate::learning_rate(lr)?;
        // Statistics learn from this batch first (checking it); nothing is
        // kept unless the whole update is accepted.
        let mut pre = (*self.pre).clone();
        let encoded = pre.learn_and_encode(x)?;
        validate::labels(&self.spec, x.rows(), y)?;
        let n = x.rows();
        let xt = Self::tensor(encoded, n, &self.device);
        let yt = Tensor::<2>::from_data(TensorData::new(y.to_vec(), [n, 1]), &self.device);
        let loss = self.loss(self.net.forward(xt), yt);
        let loss_before = loss
            .clone()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| PluginError::Backend(format!("{e:?}")))?[0];
        let mut grads = GradientsParams::from_grads(loss.backward(), &self.net);
        let norm = self.net.grad_norm(&grads).map_err(PluginError::Backend)?;
        let scale = self.params.safeguard.gradient_scale(norm)?;
        if scale < 1.0 {
            self.net.scale_grads(&mut grads, scale);
        }
        // The optimizer keeps state (Adam moments): step a copy, keep it only
        // if the new weights pass the safeguard.
        let mut optim = self.optim.clone();
        let net = optim.step(f64::from(lr), self.net.clone(), grads);
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
        self.steps += 1;
        self.snapshot = Arc::new(MlpSnapshot::new(self.spec.clone(), self.pre.clone(), host));
        Ok(FitReport::new(n, f64::from(loss_before)).with_gradient(norm, scale < 1.0))
    }

    fn predict(&self, x: &Batch<'_>) -> Result<Vec<f32>, PluginError> {
        let inference = self.net.valid();
        let device = self.device.clone().inner();
        let z = inference.forward(Self::tensor(self.pre.encode_batch(x)?, x.rows(), &device));
        let out = match self.spec.task {
            Task::Classification => sigmoid(z),
            Task::Regression => z,
        };
        out.reshape([x.rows()])
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| PluginError::Backend(format!("{e:?}")))
    }

    fn snapshot(&self) -> Arc<dyn Predictor> {
        self.snapshot.clone()
    }

    fn save(&self) -> Result<Vec<u8>, PluginError> {
        let payload = Payload {
            params: self.params.clone(),
            preprocessor: (*self.pre).clone(),
            steps: self.steps,
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

/// Payload of format version 1: the weights as exact `f32` bit patterns.
/// Optimizer state (Adam moments) is not saved: a loaded model restarts them.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Payload {
    params: MlpParams,
    preprocessor: Preprocessor,
    steps: u64,
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
        p.params
            .check()
            .map_err(|e| PluginError::Corrupt(e.to_string()))?;
        p.preprocessor.refresh();
        let spec = header.spec();
        if p.preprocessor.raw_width() != spec.width() {
            return Err(PluginError::Corrupt(format!(
                "preprocessor for {} features, header names {}",
                p.preprocessor.raw_width(),
                spec.width()
            )));
        }
        let sizes = layer_sizes(&p.preprocessor, &p.params);
        let shapes_ok = p.layers.len() + 1 == sizes.len()
            && p.layers.iter().zip(sizes.windows(2)).all(|(l, io)| {
                l.inputs == io[0]
                    && l.outputs == io[1]
                    && l.weight.len() == io[0] * io[1]
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
        Self::from_net(spec, p.params, p.preprocessor, ad, net, p.steps)
    }
}

/// Input width (encoded), hidden sizes, one output.
fn layer_sizes(pre: &Preprocessor, params: &MlpParams) -> Vec<usize> {
    let mut sizes = vec![pre.encoded_width()];
    sizes.extend(&params.hidden);
    sizes.push(1);
    sizes
}
