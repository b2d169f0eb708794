use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// The Burn network: dense layers with ReLU between them and one linear
/// output unit.
#[derive(Module, Debug)]
pub(crate) struct Net {
    layers: Vec<Linear>,
}

/// One dense layer on the host: `weight` is `[inputs, outputs]` row-major.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostLayer {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl Net {
    /// Seeded initialisation: He-uniform for hidden layers (ReLU follows),
    /// Glorot-uniform for the output layer, zero biases.
    pub fn init(sizes: &[usize], seed: u64, device: &Device) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed);
        let last = sizes.len() - 2;
        let host = sizes
            .windows(2)
            .enumerate()
            .map(|(i, io)| {
                let (inputs, outputs) = (io[0], io[1]);
                let bound = if i < last {
                    (6.0 / inputs as f32).sqrt()
                } else {
                    (6.0 / (inputs + outputs) as f32).sqrt()
                };
                HostLayer {
                    inputs,
                    outputs,
                    weight: (0..inputs * outputs)
                        .map(|_| rng.random_range(-bound..bound))
                        .collect(),
                    bias: vec![0.0; outputs],
                }
            })
            .collect::<Vec<_>>();
        Self::from_host(&host, device)
    }

    pub fn from_host(layers: &[HostLayer], device: &Device) -> Self {
        let layers = layers
            .iter()
            .map(|l| Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(l.weight.clone(), [l.inputs, l.outputs]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(l.bias.clone(), [l.outputs]),
                    device,
                ))),
            })
            .collect();
        Self { layers }
    }

    /// Reads every layer back to the host.
    pub fn to_host(&self) -> Result<Vec<HostLayer>, String> {
        self.layers
            .iter()
            .map(|l| {
                let [inputs, outputs] = l.weight.val().dims();
                let weight = l.weight.val().into_data().try_to_vec::<f32>();
                let bias = match &l.bias {
                    Some(b) => b
                        .val()
                        .into_data()
                        .try_to_vec::<f32>()
                        .map_err(|e| format!("{e:?}"))?,
                    None => vec![0.0; outputs],
                };
                Ok(HostLayer {
                    inputs,
                    outputs,
                    weight: weight.map_err(|e| format!("{e:?}"))?,
                    bias,
                })
            })
            .collect()
    }

    /// L2 norm of the whole gradient over every parameter.
    pub fn grad_norm(&self, grads: &GradientsParams) -> Result<f64, String> {
        let mut parts: Vec<Tensor<1>> = Vec::new();
        for l in &self.layers {
            if let Some(g) = grads.get::<2>(l.weight.id) {
                parts.push(g.square().sum());
            }
            if let Some(g) = l.bias.as_ref().and_then(|b| grads.get::<1>(b.id)) {
                parts.push(g.square().sum());
            }
        }
        if parts.is_empty() {
            return Ok(0.0);
        }
        let sums = Tensor::cat(parts, 0)
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("{e:?}"))?;
        Ok(sums.iter().map(|v| f64::from(*v)).sum::<f64>().sqrt())
    }

    /// Multiplies every gradient by `factor`.
    pub fn scale_grads(&self, grads: &mut GradientsParams, factor: f32) {
        for l in &self.layers {
            if let Some(g) = grads.remove::<2>(l.weight.id) {
                grads.register(l.weight.id, g.mul_scalar(factor));
            }
            if let Some(b) = &l.bias
                && let Some(g) = grads.remove::<1>(b.id)
            {
                grads.register(b.id, g.mul_scalar(factor));
            }
        }
    }

    /// Raw output scores, `[n, 1]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = relu(h);
            }
        }
        h
    }
}
